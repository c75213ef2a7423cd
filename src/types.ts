import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/** What a panel asks for; mirrors pkg/models/query.go. */
export type MeshQueryType = 'range' | 'instant' | 'table' | 'heatmap' | 'serviceGraph';

export interface MeshQuery extends DataQuery {
  expr: string;
  legendFormat?: string;
  queryType?: MeshQueryType;
  /** A Grafana interval such as "30s"; empty for none. */
  minStep?: string;
  /** Service graph: the label edges start from (default instance, the proxy). */
  sourceLabel?: string;
  /** Service graph: the label edges end at (default service). */
  targetLabel?: string;
  /** Service graph: optional per-edge error rate, aggregated by the two labels. */
  errorExpr?: string;
  /** Service graph: optional per-edge latency in seconds, aggregated by the two labels. */
  latencyExpr?: string;
  /**
   * Service graph: a second graph drawn when expr has no series at the end
   * of the range (the bundled dashboard: the proxy view when the access-log
   * agent's pair metrics are absent). Set by the dashboard, not the editor.
   */
  fallbackExpr?: string;
  fallbackErrorExpr?: string;
  fallbackLatencyExpr?: string;
  fallbackSourceLabel?: string;
  fallbackTargetLabel?: string;
}

export const DEFAULT_QUERY: Partial<MeshQuery> = {
  expr: '',
  queryType: 'range',
};

/** Service graph defaults of the backend (pkg/models/query.go). */
export const DEFAULT_SOURCE_LABEL = 'instance';
export const DEFAULT_TARGET_LABEL = 'service';

/** A template variable's query: label_values(…), metrics(…) or query_result(…). */
export interface MeshVariableQuery extends DataQuery {
  query: string;
}

export type ClickHouseProtocol = 'native' | 'http';
export type SqlStrategy = 'auto' | 'native' | 'portable';

/** jsonData of a datasource; mirrors pkg/models/settings.go. */
export interface MeshDataSourceOptions extends DataSourceJsonData {
  host?: string;
  /** A number; a numeric string is accepted too (provisioning from env). */
  port?: number | string;
  protocol?: ClickHouseProtocol;
  secure?: boolean;
  tlsSkipVerify?: boolean;
  tlsAuthWithCACert?: boolean;
  tlsAuth?: boolean;
  username?: string;
  database?: string;
  sumTable?: string;
  gaugeTable?: string;
  histogramTable?: string;
  summaryTable?: string;
  exponentialHistogramTable?: string;
  dialTimeout?: string;
  queryTimeout?: string;
  maxOpenConns?: number | string;
  lookbackDelta?: string;
  scrapeInterval?: string;
  sqlStrategy?: SqlStrategy;
  maxSeries?: number | string;
  resultCacheTTL?: string;
}

/** secureJsonData: sent to the backend only, never read back. */
export interface MeshSecureJsonData {
  password?: string;
  tlsCACert?: string;
  tlsClientCert?: string;
  tlsClientKey?: string;
}

/** One metric of the backend's `metrics` resource. */
export interface MetricInfo {
  name: string;
  type: string;
  unit?: string;
  description?: string;
}
