{#- The two observation ends of the purchase-model inputs (docs/predictions.md): the as-of date
    (the fit and the scores) and the backtest's calibration end (var `backtest_calibration_end`,
    else the as-of date minus var `backtest_holdout_days`). -#}
{% macro calibration_end_date() -%}
    {%- set fixed = run_var("backtest_calibration_end", none) -%}
    {%- if fixed -%}
        cast('{{ fixed }}' as date)
    {%- else -%}
        {%- set as_of = modules.datetime.date.fromisoformat(run_var("as_of", run_started_at.strftime("%Y-%m-%d"))) -%}
        cast('{{ (as_of - modules.datetime.timedelta(days=run_var("backtest_holdout_days", 273) | int)).isoformat() }}' as date)
    {%- endif -%}
{%- endmacro %}
