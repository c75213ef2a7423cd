import React from 'react';
import { FieldSet } from '@grafana/ui';

import { MeshDataSourceOptions } from '../../types';
import { SectionProps } from './common';
import { TextSetting } from './TextSetting';
import { identifierProblem } from './validation';

type TableKey = 'sumTable' | 'gaugeTable' | 'histogramTable' | 'summaryTable' | 'exponentialHistogramTable';

const tables: Array<{ key: TableKey; label: string; def: string }> = [
  { key: 'sumTable', label: 'Sum table', def: 'otel_metrics_sum' },
  { key: 'gaugeTable', label: 'Gauge table', def: 'otel_metrics_gauge' },
  { key: 'histogramTable', label: 'Histogram table', def: 'otel_metrics_histogram' },
  { key: 'summaryTable', label: 'Summary table', def: 'otel_metrics_summary' },
  { key: 'exponentialHistogramTable', label: 'Exponential histogram table', def: 'otel_metrics_exponential_histogram' },
];

/** The clickhouse exporter's per-type tables; empty for its defaults. */
export function TablesSection({ jsonData, setJson }: SectionProps) {
  return (
    <FieldSet label="Metric tables">
      {tables.map(({ key, label, def }) => (
        <TextSetting
          key={key}
          id={`config-${key}`}
          label={label}
          value={jsonData[key]}
          placeholder={def}
          problem={identifierProblem(jsonData[key])}
          onChange={(v) => setJson({ [key]: v } satisfies Partial<MeshDataSourceOptions>)}
        />
      ))}
    </FieldSet>
  );
}
