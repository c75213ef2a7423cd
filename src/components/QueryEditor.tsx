import React from 'react';
import { QueryEditorProps } from '@grafana/data';
import { Field, Stack } from '@grafana/ui';

import { DataSource } from '../datasource';
import { MeshDataSourceOptions, MeshQuery } from '../types';
import { ExplainSql } from './ExplainSql';
import { PromQLField } from './PromQLField';
import { QueryOptions } from './QueryOptions';
import { ServiceGraphOptions } from './ServiceGraphOptions';

type Props = QueryEditorProps<DataSource, MeshQuery, MeshDataSourceOptions>;

/** A PromQL expression with its legend, type and min step. Runs on blur and Shift+Enter. */
export function QueryEditor({ query, datasource, onChange, onRunQuery, range, data }: Props) {
  const isGraph = query.queryType === 'serviceGraph';
  return (
    <Stack direction="column" gap={1}>
      <Field
        label={isGraph ? 'Request rate' : 'Expression'}
        description={
          isGraph
            ? 'Requests per second, aggregated by the source and target labels'
            : 'PromQL, e.g. sum by (service) (rate(traefik_service_requests_total[$__rate_interval])). Shift+Enter runs it.'
        }
      >
        <PromQLField
          value={query.expr ?? ''}
          source={datasource}
          range={range}
          onChange={(expr) => onChange({ ...query, expr })}
          onRunQuery={onRunQuery}
        />
      </Field>
      {isGraph && (
        <ServiceGraphOptions
          query={query}
          source={datasource}
          range={range}
          onChange={onChange}
          onRunQuery={onRunQuery}
        />
      )}
      <QueryOptions query={query} onChange={onChange} onRunQuery={onRunQuery} />
      <ExplainSql
        datasource={datasource}
        expr={query.expr ?? ''}
        range={range}
        intervalMs={data?.request?.intervalMs}
      />
    </Stack>
  );
}
