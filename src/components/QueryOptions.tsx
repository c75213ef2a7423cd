import React, { ChangeEvent } from 'react';
import { SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, Input, RadioButtonGroup } from '@grafana/ui';

import { parseDurationSeconds } from '../explain';
import { MeshQuery, MeshQueryType } from '../types';

const queryTypeOptions: Array<SelectableValue<MeshQueryType>> = [
  { label: 'Range', value: 'range', description: 'A time series per series over the time range' },
  { label: 'Instant', value: 'instant', description: 'One value per series at the end of the time range' },
  { label: 'Table', value: 'table', description: 'The instant result as a table with one column per label' },
  { label: 'Heatmap', value: 'heatmap', description: 'Histogram buckets (a _bucket series with le) per time' },
  { label: 'Service graph', value: 'serviceGraph', description: 'Node graph of request rate between two labels' },
];

/** A min step must be a duration ("30s", "1m") or a variable; empty means none. */
export function minStepProblem(raw?: string): string | undefined {
  const text = (raw ?? '').trim();
  if (text === '' || text.startsWith('$') || parseDurationSeconds(text) !== undefined) {
    return undefined;
  }
  return 'Min step must be a duration such as 30s or 1m';
}

interface Props {
  query: MeshQuery;
  onChange: (query: MeshQuery) => void;
  onRunQuery: () => void;
}

/** Legend, query type and min step; text fields apply on blur, the type at once. */
export function QueryOptions({ query, onChange, onRunQuery }: Props) {
  const stepProblem = minStepProblem(query.minStep);
  return (
    <InlineFieldRow>
      <InlineField label="Legend" tooltip="Series name; {{label}} is replaced by the series' value of label">
        <Input
          id="query-legend"
          value={query.legendFormat ?? ''}
          placeholder="{{service}}"
          width={24}
          onChange={(e: ChangeEvent<HTMLInputElement>) => onChange({ ...query, legendFormat: e.target.value })}
          onBlur={onRunQuery}
        />
      </InlineField>
      <InlineField
        label="Min step"
        tooltip="Lower bound of the step between points, e.g. 30s"
        invalid={!!stepProblem}
        error={stepProblem}
      >
        <Input
          id="query-min-step"
          value={query.minStep ?? ''}
          placeholder="auto"
          width={10}
          onChange={(e: ChangeEvent<HTMLInputElement>) => onChange({ ...query, minStep: e.target.value })}
          onBlur={() => !stepProblem && onRunQuery()}
        />
      </InlineField>
      <InlineField label="Type">
        <RadioButtonGroup<MeshQueryType>
          options={queryTypeOptions}
          value={query.queryType ?? 'range'}
          onChange={(v) => {
            onChange({ ...query, queryType: v });
            onRunQuery();
          }}
        />
      </InlineField>
    </InlineFieldRow>
  );
}
