-- Price tier of each product (docs/metrics.md#price-tiers): the quartile of its current price
-- within its category, 1 = the cheapest quarter, 4 = the dearest. Ties share a tier (the rule of
-- the RFM scores: least(4, 1 + floor(4 * percent_rank()))). Products without a price have none.
{{ price_tiers(ref('stg_shop__products')) }}
