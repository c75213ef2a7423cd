import React from 'react';
import { SelectableValue } from '@grafana/data';
import { Field, FieldSet, RadioButtonGroup } from '@grafana/ui';

import { SqlStrategy } from '../../types';
import { SectionProps } from './common';
import { TextSetting } from './TextSetting';
import { durationProblem, limitProblem, numberOrText } from './validation';

const strategyOptions: Array<SelectableValue<SqlStrategy>> = [
  { label: 'Auto', value: 'auto', description: 'Native from ClickHouse 25.9, portable before' },
  { label: 'Native', value: 'native', description: "ClickHouse's timeSeries*ToGrid functions" },
  { label: 'Portable', value: 'portable', description: 'Plain SQL that any recent ClickHouse runs' },
];

export function QuerySection({ jsonData, setJson }: SectionProps) {
  return (
    <FieldSet label="Query behaviour">
      <TextSetting
        id="config-query-timeout"
        label="Query timeout"
        description="Longest a statement may run (at least 1s)"
        width={12}
        value={jsonData.queryTimeout}
        placeholder="60s"
        problem={durationProblem(jsonData.queryTimeout, 1)}
        onChange={(queryTimeout) => setJson({ queryTimeout })}
      />
      <TextSetting
        id="config-scrape-interval"
        label="Scrape interval"
        description="The collector's scrape interval; $__rate_interval is built from it"
        width={12}
        value={jsonData.scrapeInterval}
        placeholder="15s"
        problem={durationProblem(jsonData.scrapeInterval, 1)}
        onChange={(scrapeInterval) => setJson({ scrapeInterval })}
      />
      <TextSetting
        id="config-lookback-delta"
        label="Lookback delta"
        description="How far back an instant looks for a sample, as in Prometheus"
        width={12}
        value={jsonData.lookbackDelta}
        placeholder="5m"
        problem={durationProblem(jsonData.lookbackDelta, 1)}
        onChange={(lookbackDelta) => setJson({ lookbackDelta })}
      />
      <TextSetting
        id="config-result-cache-ttl"
        label="Result cache TTL"
        description="How long the past of a range answer is reused, so a refresh computes only new minutes; rows stored later show after at most this (0s turns the cache off)"
        width={12}
        value={jsonData.resultCacheTTL}
        placeholder="10m"
        problem={durationProblem(jsonData.resultCacheTTL, 0)}
        onChange={(resultCacheTTL) => setJson({ resultCacheTTL })}
      />
      <Field label="SQL strategy">
        <RadioButtonGroup<SqlStrategy>
          options={strategyOptions}
          value={jsonData.sqlStrategy ?? 'auto'}
          onChange={(sqlStrategy) => setJson({ sqlStrategy })}
        />
      </Field>
      <TextSetting
        id="config-max-open-conns"
        label="Max open connections"
        width={12}
        value={jsonData.maxOpenConns}
        placeholder="10"
        problem={limitProblem(jsonData.maxOpenConns, 1000)}
        onChange={(v) => setJson({ maxOpenConns: numberOrText(v) })}
      />
      <TextSetting
        id="config-max-series"
        label="Max series"
        description="A query returning more series fails instead of flooding the panel"
        width={12}
        value={jsonData.maxSeries}
        placeholder="10000"
        problem={limitProblem(jsonData.maxSeries, 1_000_000)}
        onChange={(v) => setJson({ maxSeries: numberOrText(v) })}
      />
    </FieldSet>
  );
}
