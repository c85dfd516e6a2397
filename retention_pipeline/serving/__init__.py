"""Serving copies of the marts for BI tools: the warehouse file stays the pipeline's own.

DuckDB lets one process write a file, and a reader holding it makes the next run fail; so BI tools
read copies that are replaced whole, never written in place:

- ``duckdb_file``  a new DuckDB file (storage readable by DuckDB 1.x) moved over the old one
- ``postgres``     a fresh schema loaded with COPY, swapped for ``marts`` in one transaction
- ``parquet``      one file per mart, each moved over the old one
- ``tables``       which marts and columns are served (personal data left out)
- ``personal``     the personal-data columns, read from the `meta` marks in the dbt YAML
- ``log``          ``marts.serving_log``: what was published, when, for which as-of date
"""
