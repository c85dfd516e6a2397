{{ config(materialized='ephemeral') }}
-- The one place activation reads the predictions (written by the Python model fits): predicted
-- CLV for the daily volume caps, churn risk for the predicted_churners segment.
select customer_id, predicted_clv_365d as predicted_clv, churn_risk
from {{ source('python_marts', 'customer_predictions') }}
where customer_id is not null
