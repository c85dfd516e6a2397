{{ config(materialized='ephemeral') }}
-- The one place activation reads the predictions (the fits' scores joined to customers): predicted
-- CLV for the daily volume caps, churn risk for the predicted_churners segment.
select customer_id, predicted_clv_365d as predicted_clv, churn_risk
from {{ ref('customer_predictions') }}
where customer_id is not null
