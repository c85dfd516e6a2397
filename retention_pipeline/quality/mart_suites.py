"""Great Expectations suites for the marts (dbt models, asset keys ["marts", name]).

Every expectation here blocks (severity "error"): the exports (activation) are downstream of the
marts and must not be sent on numbers that cannot be right. dbt tests cover keys and not-nulls;
these suites cover the metric invariants of docs/metrics.md (rates are shares, period 0 is 100 %,
the cohorts partition the customers).

Imported only inside the check functions: Great Expectations is slow to import.
"""

from __future__ import annotations

import datetime as dt

import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import Column

from retention_pipeline.quality.frames import Frame
from retention_pipeline.quality.gx_runner import ERROR

COHORT_GRANULARITIES = ("week", "month")


def _meta(why: str) -> dict:
    return {"severity": ERROR, "why": why}


def _share(column: str):
    return gxe.ExpectColumnValuesToBeBetween(
        column=column, min_value=0, max_value=1, meta=_meta(f"{column} is a share of customers")
    )


def _at_most(part: str, whole: str):
    return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=whole, column_B=part, or_equal=True, ignore_row_if="either_value_is_missing",
        meta=_meta(f"{part} are a subset of {whole}"),
    )



def cohort_retention_suite(as_of: dt.date) -> list:
    return [
        _share("retention_rate"),
        _at_most("active_customers", "cohort_size"),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="active_customers", column_B="cohort_size",
            row_condition=Column("period_index") == 0,
            meta=_meta("every customer of a cohort is active in its period 0 (retention 100 %)"),
        ),
    ]


def cohort_totals_suite(as_of: dt.date) -> list:
    return [
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="cohort_customers", column_B="customers_with_occasion",
            meta=_meta("each customer with an occasion is in exactly one cohort per granularity"),
        ),
    ]


def repurchase_by_cohort_suite(as_of: dt.date) -> list:
    return [
        _share("repurchase_rate"),
        _at_most("repurchased_customers", "matured_customers"),
    ]


def repurchase_by_period_suite(as_of: dt.date) -> list:
    return [
        _share("repeat_purchase_rate"),
        _share("returning_customer_rate"),
        _at_most("repeat_purchasers", "purchasers"),
        _at_most("returning_customers", "purchasers"),
    ]


def dim_customers_suite(as_of: dt.date) -> list:
    # Scores are null for customers without an occasion; GX skips nulls in value expectations.
    scores = [
        gxe.ExpectColumnValuesToBeInSet(
            column=column, value_set=[1, 2, 3, 4, 5],
            meta=_meta(f"{column} is a quintile score 1..5 (docs/metrics.md#rfm)"),
        )
        for column in ("r_score", "f_score", "m_score")
    ]
    fm_score = gxe.ExpectColumnValuesToBeBetween(
        column="fm_score", min_value=1, max_value=5, meta=_meta("fm_score averages two 1..5 scores")
    )
    return [*scores, fm_score]


MART_FRAMES: dict[str, list[Frame]] = {
    "cohort_retention": [
        Frame(
            name="marts.cohort_retention",
            table="marts.cohort_retention",
            key="cohort_start",
            expectations=cohort_retention_suite,
            sql="select cohort_granularity, cohort_start, period_index, cohort_size, "
            "active_customers, retention_rate from scope",
        ),
        # Aggregates of the whole mart: never sampled, two rows.
        Frame(
            name="marts.cohort_retention.totals",
            table="marts.cohort_retention",
            also_reads=("intermediate.int_purchase_occasions",),
            expectations=cohort_totals_suite,
            sql=f"""
            with granularities(cohort_granularity) as (
                values {", ".join(f"('{g}')" for g in COHORT_GRANULARITIES)}
            ),
            sizes as (
                select cohort_granularity, sum(cohort_size) as cohort_customers
                from scope where period_index = 0 group by cohort_granularity
            )
            select
                g.cohort_granularity,
                coalesce(s.cohort_customers, 0) as cohort_customers,
                (select count(distinct customer_id) from intermediate.int_purchase_occasions)
                    as customers_with_occasion
            from granularities as g
            left join sizes as s using (cohort_granularity)
            """,
        ),
    ],
    "repurchase_by_cohort": [
        Frame(
            name="marts.repurchase_by_cohort",
            table="marts.repurchase_by_cohort",
            key="cohort_start",
            expectations=repurchase_by_cohort_suite,
            sql="select cohort_granularity, cohort_start, window_days, matured_customers, "
            "repurchased_customers, repurchase_rate from scope",
        ),
    ],
    "repurchase_by_period": [
        Frame(
            name="marts.repurchase_by_period",
            table="marts.repurchase_by_period",
            key="period_start",
            expectations=repurchase_by_period_suite,
            sql="select period_granularity, period_start, purchasers, repeat_purchasers, "
            "repeat_purchase_rate, returning_customers, returning_customer_rate from scope",
        ),
    ],
    "dim_customers": [
        Frame(
            name="marts.dim_customers",
            table="marts.dim_customers",
            key="customer_id",
            expectations=dim_customers_suite,
            sql="select customer_id, r_score, f_score, m_score, cast(fm_score as double) as fm_score "
            "from scope",
        ),
    ],
}
