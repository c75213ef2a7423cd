import { TimeRange } from '@grafana/data';

import { escapeForQuote, escapeRegex } from '../interpolate';
import { MetricInfo } from '../types';
import { CompletionContext } from './context';

/** What completion asks the backend's resources (the DataSource implements it). */
export interface MetadataSource {
  fetchMetrics(regex: string, range: TimeRange): Promise<MetricInfo[]>;
  fetchLabelNames(selector: string, range: TimeRange): Promise<string[]>;
  fetchLabelValues(label: string, selector: string, range: TimeRange): Promise<string[]>;
}

export type SuggestionKind = 'metric' | 'function' | 'variable' | 'label' | 'value' | 'duration';

export interface Suggestion {
  label: string;
  insertText: string;
  kind: SuggestionKind;
  detail?: string;
  documentation?: string;
}

/** Static vocabulary: PromQL's functions and aggregations, the dashboard's variables. */
export interface Vocabulary {
  keywords: string[];
  variables: string[];
}

const durations = ['$__rate_interval', '$__interval', '$__range', '1m', '5m', '15m', '1h', '1d'];

/** The metric-name regex for a typed prefix (the backend anchors it). */
export function metricRegex(prefix: string): string {
  return prefix ? `${escapeRegex(prefix)}.*` : '';
}

/** Adds `label=~"prefix.*"` to a selector so the backend returns only matching values. */
export function scopedSelector(selector: string, label: string, prefix: string): string {
  if (!prefix) {
    return selector;
  }
  const matcher = `${label}=~"${escapeForQuote(escapeRegex(prefix), '"')}.*"`;
  if (!selector) {
    return `{${matcher}}`;
  }
  return selector.endsWith('{}') ? `${selector.slice(0, -1)}${matcher}}` : `${selector.slice(0, -1)},${matcher}}`;
}

function metricDetail(m: MetricInfo): string {
  return m.unit ? `${m.type} (${m.unit})` : m.type;
}

/** Asks the backend for what fits the context and turns it into suggestions. */
export async function fetchSuggestions(
  ctx: CompletionContext,
  source: MetadataSource,
  range: TimeRange,
  vocabulary: Vocabulary
): Promise<Suggestion[]> {
  switch (ctx.kind) {
    case 'metric': {
      if (ctx.prefix.startsWith('$')) {
        return vocabulary.variables.map((v) => ({ label: `$${v}`, insertText: `$${v}`, kind: 'variable' }));
      }
      const metrics = await source.fetchMetrics(metricRegex(ctx.prefix), range);
      const fns = vocabulary.keywords
        .filter((k) => k.startsWith(ctx.prefix))
        .map((k): Suggestion => ({ label: k, insertText: k, kind: 'function' }));
      return [
        ...metrics.map((m): Suggestion => ({
          label: m.name,
          insertText: m.name,
          kind: 'metric',
          detail: metricDetail(m),
          documentation: m.description,
        })),
        ...fns,
      ];
    }
    case 'labelName': {
      const names = await source.fetchLabelNames(ctx.selector, range);
      return names.filter((n) => n !== '__name__').map((n) => ({ label: n, insertText: n, kind: 'label' }));
    }
    case 'labelValue': {
      const values = await source.fetchLabelValues(
        ctx.label,
        scopedSelector(ctx.selector, ctx.label, ctx.prefix),
        range
      );
      const quote = ctx.quote;
      return values.map((v) => ({
        label: v,
        insertText: quote ? escapeForQuote(v, quote) : `"${escapeForQuote(v, '"')}"`,
        kind: 'value',
      }));
    }
    case 'duration':
      return durations.map((d) => ({ label: d, insertText: d, kind: 'duration' }));
    case 'none':
      return [];
  }
}
