import {
  CoreApp,
  DataQueryRequest,
  DataSourceInstanceSettings,
  LegacyMetricFindQueryOptions,
  MetricFindValue,
  ScopedVars,
  TimeRange,
  getDefaultTimeRange,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import { lastValueFrom } from 'rxjs';

import { expandMacros, parseDurationSeconds } from './explain';
import { interpolateExpr } from './interpolate';
import { parseVariableQuery, queryResultValues } from './metricFind';
import { MeshVariableSupport } from './variables';
import { DEFAULT_QUERY, MeshDataSourceOptions, MeshQuery, MeshVariableQuery, MetricInfo } from './types';

interface ResourceAnswer<T> {
  data: T;
}

/** Unix seconds of a time range, as the backend's resources take them. */
export function rangeParams(range: TimeRange): { start: number; end: number } {
  return { start: Math.floor(range.from.valueOf() / 1000), end: Math.ceil(range.to.valueOf() / 1000) };
}

/** The backend's {"error": "…"} message, or what the request failed with. */
function resourceError(err: unknown): Error {
  if (typeof err === 'object' && err !== null && 'data' in err) {
    const data: unknown = err.data;
    if (typeof data === 'object' && data !== null && 'error' in data && typeof data.error === 'string') {
      return new Error(data.error);
    }
  }
  return err instanceof Error ? err : new Error(String(err));
}

export class DataSource extends DataSourceWithBackend<MeshQuery, MeshDataSourceOptions> {
  /** jsonData.scrapeInterval in seconds: what $__rate_interval is made of. */
  readonly scrapeSeconds: number;

  constructor(instanceSettings: DataSourceInstanceSettings<MeshDataSourceOptions>) {
    super(instanceSettings);
    this.scrapeSeconds = parseDurationSeconds(instanceSettings.jsonData?.scrapeInterval ?? '') ?? 15;
    this.variables = new MeshVariableSupport(this);
  }

  getDefaultQuery(_: CoreApp): Partial<MeshQuery> {
    return DEFAULT_QUERY;
  }

  /** An expression with its variables replaced and escaped for their context. */
  interpolateExpr(expr: string, scopedVars?: ScopedVars): string {
    const templateSrv = getTemplateSrv();
    return interpolateExpr(expr, (text, format) => templateSrv.replace(text, scopedVars, format));
  }

  applyTemplateVariables(query: MeshQuery, scopedVars: ScopedVars): MeshQuery {
    const templateSrv = getTemplateSrv();
    const plain = (v?: string) => (v === undefined ? undefined : templateSrv.replace(v, scopedVars));
    const expr = (v?: string) => (v === undefined ? undefined : this.interpolateExpr(v, scopedVars));
    return {
      ...query,
      expr: this.interpolateExpr(query.expr ?? '', scopedVars),
      legendFormat: plain(query.legendFormat),
      minStep: plain(query.minStep),
      sourceLabel: plain(query.sourceLabel),
      targetLabel: plain(query.targetLabel),
      errorExpr: expr(query.errorExpr),
      latencyExpr: expr(query.latencyExpr),
      fallbackExpr: expr(query.fallbackExpr),
      fallbackErrorExpr: expr(query.fallbackErrorExpr),
      fallbackLatencyExpr: expr(query.fallbackLatencyExpr),
      fallbackSourceLabel: plain(query.fallbackSourceLabel),
      fallbackTargetLabel: plain(query.fallbackTargetLabel),
    };
  }

  interpolateVariablesInQueries(queries: MeshQuery[], scopedVars: ScopedVars): MeshQuery[] {
    return queries.map((q) => ({ ...this.applyTemplateVariables(q, scopedVars), datasource: this.getRef() }));
  }

  filterQuery(query: MeshQuery): boolean {
    // An empty editor is not a query: do not ask the backend.
    return !query.hide && (query.expr ?? '').trim() !== '';
  }

  private async resource<T>(path: string, params: Record<string, string | number>): Promise<T> {
    try {
      const answer = await this.getResource<ResourceAnswer<T>>(path, params);
      return answer.data;
    } catch (err) {
      throw resourceError(err);
    }
  }

  /** Metrics whose name the (fully anchored) regex matches, in the time range. */
  fetchMetrics(regex: string, range: TimeRange): Promise<MetricInfo[]> {
    return this.resource<MetricInfo[]>('metrics', { match: regex, ...rangeParams(range) });
  }

  /** Label names of a selector's series in the time range. */
  fetchLabelNames(selector: string, range: TimeRange): Promise<string[]> {
    return this.resource<string[]>('labels', { match: selector, ...rangeParams(range) });
  }

  /** Values of a label on a selector's series in the time range. */
  fetchLabelValues(label: string, selector: string, range: TimeRange): Promise<string[]> {
    return this.resource<string[]>('label-values', { label, match: selector, ...rangeParams(range) });
  }

  /**
   * The SQL the backend runs for an expression as a range query over the time
   * range, with the panel's interval (ms) when known. Dashboard variables and
   * Grafana's interval macros are put in first, as for a panel query.
   */
  explain(expr: string, range: TimeRange, intervalMs?: number): Promise<string> {
    const rangeSeconds = (range.to.valueOf() - range.from.valueOf()) / 1000;
    // The backend's default: about 1000 points over the range.
    const step = intervalMs ? intervalMs / 1000 : Math.max(1, rangeSeconds / 1000);
    const full = expandMacros(this.interpolateExpr(expr), step, rangeSeconds, this.scrapeSeconds);
    const params: Record<string, string | number> = { expr: full, ...rangeParams(range) };
    if (intervalMs) {
      params.step = step;
    }
    return this.resource<string>('explain', params);
  }

  async metricFindQuery(
    query: MeshVariableQuery | string,
    options?: LegacyMetricFindQueryOptions
  ): Promise<MetricFindValue[]> {
    const raw = typeof query === 'string' ? query : query.query;
    const range = options?.range ?? getDefaultTimeRange();
    const parsed = parseVariableQuery(this.interpolateExpr(raw ?? '', options?.scopedVars));
    if (!parsed) {
      throw new Error(
        `Unknown variable query ${JSON.stringify(raw)}: expected label_values(metric, label), label_values(label), metrics(regex) or query_result(expr)`
      );
    }
    switch (parsed.kind) {
      case 'labelValues':
        return (await this.fetchLabelValues(parsed.label, parsed.match ?? '', range)).map((text) => ({ text }));
      case 'metrics':
        return (await this.fetchMetrics(parsed.regex, range)).map((m) => ({ text: m.name }));
      case 'queryResult':
        return this.queryResult(parsed.expr, range);
    }
  }

  /** Runs an instant query through QueryData and lists its series. */
  private async queryResult(expr: string, range: TimeRange): Promise<MetricFindValue[]> {
    const request: DataQueryRequest<MeshQuery> = {
      requestId: `meshmetrics-variable-${Date.now()}`,
      interval: '1m',
      intervalMs: 60_000,
      range,
      scopedVars: {},
      targets: [{ refId: 'variable', expr, queryType: 'instant', datasource: this.getRef() }],
      timezone: 'utc',
      app: CoreApp.Dashboard,
      startTime: Date.now(),
    };
    const response = await lastValueFrom(this.query(request));
    if (response.errors?.length) {
      throw new Error(response.errors.map((e) => e.message ?? 'query failed').join('; '));
    }
    return queryResultValues(response.data);
  }
}
