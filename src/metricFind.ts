import { DataFrame, FieldType, MetricFindValue } from '@grafana/data';

/** A parsed variable query; mirrors Grafana's Prometheus variable functions. */
export type VariableQuery =
  | { kind: 'labelValues'; label: string; match?: string }
  | { kind: 'metrics'; regex: string }
  | { kind: 'queryResult'; expr: string };

const labelValuesRe = /^label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/s;
const metricsRe = /^metrics\(\s*(.*?)\s*\)\s*$/s;
const queryResultRe = /^query_result\(\s*(.+)\s*\)\s*$/s;

/** Parses `label_values(metric, label)`, `label_values(label)`, `metrics(regex)`, `query_result(expr)`. */
export function parseVariableQuery(query: string): VariableQuery | undefined {
  const q = query.trim();
  let m = labelValuesRe.exec(q);
  if (m) {
    return m[1] ? { kind: 'labelValues', label: m[2], match: m[1] } : { kind: 'labelValues', label: m[2] };
  }
  m = metricsRe.exec(q);
  if (m) {
    return { kind: 'metrics', regex: m[1] };
  }
  m = queryResultRe.exec(q);
  if (m) {
    return { kind: 'queryResult', expr: m[1] };
  }
  return undefined;
}

/** Writes a variable query back as its function call. */
export function formatVariableQuery(v: VariableQuery): string {
  switch (v.kind) {
    case 'labelValues':
      return v.match ? `label_values(${v.match}, ${v.label})` : `label_values(${v.label})`;
    case 'metrics':
      return `metrics(${v.regex})`;
    case 'queryResult':
      return `query_result(${v.expr})`;
  }
}

function formatLabels(labels: Record<string, string>): { name: string; rest: string } {
  const name = labels.__name__ ?? '';
  const pairs = Object.keys(labels)
    .filter((k) => k !== '__name__')
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return { name, rest: pairs.length ? `{${pairs.join(', ')}}` : '' };
}

/**
 * query_result's texts, as Grafana's Prometheus datasource writes them:
 * `name{label="value", …} value timestamp` for each series of an instant query.
 */
export function queryResultValues(frames: DataFrame[]): MetricFindValue[] {
  const out: MetricFindValue[] = [];
  for (const frame of frames) {
    const time = frame.fields.find((f) => f.type === FieldType.time);
    for (const field of frame.fields) {
      if (field.type !== FieldType.number) {
        continue;
      }
      const { name, rest } = formatLabels({ ...(field.labels ?? {}) });
      const metric = name || (field.labels ? '' : (frame.name ?? ''));
      for (let i = 0; i < field.values.length; i++) {
        const ts = time ? Number(time.values[i]) : undefined;
        const stamp = ts === undefined ? '' : ' ' + ts;
        out.push({ text: `${metric}${rest} ${field.values[i]}${stamp}`.trim() });
      }
    }
  }
  return out;
}
