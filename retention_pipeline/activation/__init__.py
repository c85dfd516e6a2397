"""Activation (docs/metrics.md#campaigns): who gets which message today, on which channel, at what
time.

One module per responsibility; the order of a day is the order below.

- ``inputs``         the marts and staging tables activation reads, and the purchases table it builds
- ``presets``        the contact-policy seeds of the preset in force (priorities, channels, caps, hours)
- ``campaigns/``     one SQL rule per campaign (``campaigns/win_back.sql`` is the win-back rule)
- ``consent``        where consent and addresses get checked (incl. later unsubscribe events)
- ``cooldowns``      the repetition rules (once per customer/product/event/year; win-back 90 days)
                     and the seed's per-campaign cooldowns
- ``caps``           frequency caps per channel and window
- ``control_group``  the stable hash that holds out a share of each campaign
- ``quiet_hours``    send_at in the recipient's time zone, inside the allowed hours
- ``policy``         the decision: every candidate ends queued, holdout or suppressed, with a reason
- ``contact_log``    the append-only history caps and cooldowns read (a day is replaced on re-run)
- ``segments``       segment_members (RFM segments, member tiers, predicted churners)
- ``lift``           campaign_lift: treated vs control repurchase, with a 95 % interval
- ``checks``         the blocking checks in front of the exports
- ``exports``        the CRM files, written atomically with a manifest
- ``daily``          the whole day in order, outside Dagster (tests, scripts)

Everything heavy is set-based SQL in DuckDB; Python only orchestrates.
"""
