"""Activation (docs/metrics.md#campaigns, docs/activation.md): who gets which message today, on
which channel, at what time.

The decisions are dbt models in dbt_project/models/activation (portable SQL, built on the dbt
target after the prediction fits, tag `after_predictions`): campaign_candidates (the campaigns'
rules in campaigns/, the contact policy in policy/ and campaign_candidates.sql), contact_log,
segment_members and campaign_lift. The blocking checks are dbt tests of campaign_candidates
(dbt_project/tests/activation).

What stays in Python:
- ``build``     the activation dbt build outside Dagster (tests, scripts), with its check results
- ``exports``   the CRM files, read from the dbt target, written atomically with a manifest
- ``segments``  the segment names every day's export carries
- ``daily``     the whole day in order, outside Dagster
"""
