import React, { ChangeEvent } from 'react';
import { TimeRange } from '@grafana/data';
import { Field, InlineField, InlineFieldRow, Input, Stack } from '@grafana/ui';

import { MetadataSource } from '../language/suggestions';
import { DEFAULT_SOURCE_LABEL, DEFAULT_TARGET_LABEL, MeshQuery } from '../types';
import { PromQLField } from './PromQLField';

interface Props {
  query: MeshQuery;
  source: MetadataSource;
  range?: TimeRange;
  onChange: (query: MeshQuery) => void;
  onRunQuery: () => void;
}

/** A service graph's edge labels and its optional error and latency expressions. */
export function ServiceGraphOptions({ query, source, range, onChange, onRunQuery }: Props) {
  const src = (query.sourceLabel ?? '').trim() || DEFAULT_SOURCE_LABEL;
  const dst = (query.targetLabel ?? '').trim() || DEFAULT_TARGET_LABEL;
  const same = src === dst;
  return (
    <Stack direction="column" gap={1}>
      <InlineFieldRow>
        <InlineField
          label="Source label"
          tooltip="Edges start at this label's value; several labels separated by commas name a node by their values joined with / (source_namespace,source_workload for the access-log agent's pairs). Traefik Mesh's metrics have no source service: the default is the proxy (instance)."
        >
          <Input
            id="query-source-label"
            value={query.sourceLabel ?? ''}
            placeholder={DEFAULT_SOURCE_LABEL}
            width={20}
            onChange={(e: ChangeEvent<HTMLInputElement>) => onChange({ ...query, sourceLabel: e.target.value })}
            onBlur={() => !same && onRunQuery()}
          />
        </InlineField>
        <InlineField
          label="Target label"
          tooltip="Edges end at this label's value; several labels separated by commas are joined with / (destination_namespace,destination_service)"
          invalid={same}
          error={same ? 'Source and target label must differ' : undefined}
        >
          <Input
            id="query-target-label"
            value={query.targetLabel ?? ''}
            placeholder={DEFAULT_TARGET_LABEL}
            width={20}
            onChange={(e: ChangeEvent<HTMLInputElement>) => onChange({ ...query, targetLabel: e.target.value })}
            onBlur={() => !same && onRunQuery()}
          />
        </InlineField>
      </InlineFieldRow>
      <Field label="Error rate (optional)" description="Errors per second, aggregated by the source and target labels">
        <PromQLField
          ariaLabel="Error rate expression"
          value={query.errorExpr ?? ''}
          source={source}
          range={range}
          height={40}
          onChange={(errorExpr) => onChange({ ...query, errorExpr })}
          onRunQuery={onRunQuery}
        />
      </Field>
      <Field
        label="Latency (optional)"
        description="Seconds, e.g. a histogram_quantile, aggregated by the source and target labels"
      >
        <PromQLField
          ariaLabel="Latency expression"
          value={query.latencyExpr ?? ''}
          source={source}
          range={range}
          height={40}
          onChange={(latencyExpr) => onChange({ ...query, latencyExpr })}
          onRunQuery={onRunQuery}
        />
      </Field>
    </Stack>
  );
}
