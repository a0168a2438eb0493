import { describe, expect, it } from 'vitest';
import { promqlMetricNames } from '../helpers/promql.ts';

// The tokenizer the dashboard/alerts test (test/integration/metrics.test.ts) relies on: if it
// missed names, a renamed metric would go unnoticed; if it took labels or functions for names,
// the test would fail for nothing.
describe('promqlMetricNames', () => {
  it('finds the metrics of aggregations, functions, ranges, matchers and binary operators', () => {
    expect(
      promqlMetricNames(
        'histogram_quantile(0.95, sum by (integration, le) (rate(switchboard_tool_call_duration_seconds_bucket{job=~"$job", integration!="x"}[$__rate_interval])))',
      ),
    ).toEqual(['switchboard_tool_call_duration_seconds']);
    expect(
      promqlMetricNames(
        'sum without (instance) (increase(a_total[5m] offset 1h)) / on (job) group_left (team) max(b) > bool 3 and up{job="switchboard"} == 0',
      ),
    ).toEqual(['a_total', 'b', 'up']);
    expect(promqlMetricNames('max by (queue) (delta(switchboard_dead_letters[30m])) > 0')).toEqual([
      'switchboard_dead_letters',
    ]);
  });

  it('takes no label name, label value, duration or Grafana variable for a metric', () => {
    expect(
      promqlMetricNames(
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a Grafana variable, not a template
        'sum by (reason) (rate(m_total{outcome="refused", reason!~"missing|other_metric"}[${__range}])) * 1e3',
      ),
    ).toEqual(['m_total']);
    expect(promqlMetricNames('count(x_count) + count_values("v", y_sum)')).toEqual(['x', 'y']);
  });
});
