import React, { ChangeEvent } from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { Field, Input, RadioButtonGroup, Stack, TextArea } from '@grafana/ui';

import { DataSource } from '../datasource';
import { MeshDataSourceOptions, MeshQuery, MeshQueryType } from '../types';

type Props = QueryEditorProps<DataSource, MeshQuery, MeshDataSourceOptions>;

const queryTypeOptions: Array<SelectableValue<MeshQueryType>> = [
  { label: 'Range', value: 'range' },
  { label: 'Instant', value: 'instant' },
  { label: 'Table', value: 'table' },
  { label: 'Heatmap', value: 'heatmap' },
  { label: 'Service graph', value: 'serviceGraph' },
];

/** A PromQL-style expression with its legend and query type. Runs on blur and Shift+Enter. */
export function QueryEditor({ query, onChange, onRunQuery }: Props) {
  const onExprKeyDown = (event: React.KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && event.shiftKey) {
      event.preventDefault();
      onRunQuery();
    }
  };

  return (
    <Stack direction="column" gap={1}>
      <Field label="Expression" description="PromQL, e.g. sum by (service) (rate(traefik_service_requests_total[$__rate_interval]))">
        <TextArea
          id="query-expr"
          value={query.expr ?? ''}
          rows={3}
          placeholder="rate(traefik_service_requests_total[5m])"
          onChange={(e: ChangeEvent<HTMLTextAreaElement>) => onChange({ ...query, expr: e.target.value })}
          onBlur={onRunQuery}
          onKeyDown={onExprKeyDown}
        />
      </Field>
      <Stack direction="row" gap={2}>
        <Field label="Legend" description="{{label}} is replaced by the series' label value">
          <Input
            id="query-legend"
            value={query.legendFormat ?? ''}
            placeholder="{{service}}"
            width={30}
            onChange={(e: ChangeEvent<HTMLInputElement>) => onChange({ ...query, legendFormat: e.target.value })}
            onBlur={onRunQuery}
          />
        </Field>
        <Field label="Query type">
          <RadioButtonGroup<MeshQueryType>
            options={queryTypeOptions}
            value={query.queryType ?? 'range'}
            onChange={(v) => {
              onChange({ ...query, queryType: v });
              onRunQuery();
            }}
          />
        </Field>
      </Stack>
    </Stack>
  );
}
