{#- Fails on every series of periods that has a gap or does not reach the period holding the as-of
    date: a "zeros included" mart has one row per period from its first period up to as-of.
    The series is identified by granularity_column (values 'day', 'week', 'month') plus the
    optional series_columns; uniqueness of the periods is tested on its own. -#}
{% test complete_period_spine(model, granularity_column, period_column, series_columns=[]) %}
{%- set series = [granularity_column] + series_columns %}
select
    {{ series | join(', ') }},
    count(*) as periods,
    min({{ period_column }}) as first_period,
    max({{ period_column }}) as last_period
from {{ model }}
group by {{ series | join(', ') }}
having count(*) <> {{ periods_between_of(granularity_column, 'min(' ~ period_column ~ ')',
                                         'max(' ~ period_column ~ ')') }} + 1
    or max({{ period_column }}) <> {{ period_start_of(granularity_column, as_of_date()) }}
{% endtest %}
