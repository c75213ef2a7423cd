import React, { ChangeEvent, useState } from 'react';
import { SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, Input, RadioButtonGroup } from '@grafana/ui';

import { formatVariableQuery, parseVariableQuery, VariableQuery } from '../metricFind';
import { MeshVariableQuery } from '../types';

type Kind = VariableQuery['kind'];

const kindOptions: Array<SelectableValue<Kind>> = [
  { label: 'Label values', value: 'labelValues', description: 'label_values(metric, label) or label_values(label)' },
  { label: 'Metrics', value: 'metrics', description: 'metrics(regex): metric names matching a regex' },
  { label: 'Query result', value: 'queryResult', description: 'query_result(expr): the series of an instant query' },
];

interface Props {
  query: MeshVariableQuery | string;
  onChange: (query: MeshVariableQuery, definition: string) => void;
}

function initial(query: MeshVariableQuery | string): VariableQuery {
  const text = typeof query === 'string' ? query : (query?.query ?? '');
  return parseVariableQuery(text) ?? { kind: 'labelValues', label: '' };
}

/** The variable query as its parts; saved (on blur) as label_values(…), metrics(…) or query_result(…). */
export function VariableQueryEditor({ query, onChange }: Props) {
  const [state, setState] = useState<VariableQuery>(() => initial(query));

  const save = (next: VariableQuery) => {
    const text = formatVariableQuery(next);
    onChange({ refId: 'MeshMetricsVariable', query: text }, text);
  };
  const text = (
    label: string,
    id: string,
    value: string,
    placeholder: string,
    set: (v: string) => VariableQuery,
    width = 40
  ) => (
    <InlineField label={label} labelWidth={14}>
      <Input
        id={id}
        value={value}
        placeholder={placeholder}
        width={width}
        onChange={(e: ChangeEvent<HTMLInputElement>) => setState(set(e.target.value))}
        onBlur={() => save(state)}
      />
    </InlineField>
  );

  return (
    <div>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={14}>
          <RadioButtonGroup<Kind>
            options={kindOptions}
            value={state.kind}
            onChange={(kind) => {
              // The new kind's fields start empty; the query is saved once they are filled.
              const next: VariableQuery =
                kind === 'labelValues'
                  ? { kind, label: '' }
                  : kind === 'metrics'
                    ? { kind, regex: '' }
                    : { kind, expr: '' };
              setState(next);
            }}
          />
        </InlineField>
      </InlineFieldRow>
      {state.kind === 'labelValues' && (
        <InlineFieldRow>
          {text('Label', 'variable-label', state.label, 'service', (label) => ({ ...state, label }), 20)}
          {text(
            'Metric',
            'variable-match',
            state.match ?? '',
            'traefik_service_requests_total (optional)',
            (match) => ({ ...state, match: match || undefined })
          )}
        </InlineFieldRow>
      )}
      {state.kind === 'metrics' &&
        text('Regex', 'variable-regex', state.regex, 'traefik_.*', (regex) => ({ ...state, regex }))}
      {state.kind === 'queryResult' &&
        text(
          'Expression',
          'variable-expr',
          state.expr,
          'topk(5, sum by (service) (rate(traefik_service_requests_total[5m])))',
          (expr) => ({ ...state, expr }),
          60
        )}
    </div>
  );
}
