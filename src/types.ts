import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/** What a panel asks for; mirrors pkg/models/query.go. */
export type MeshQueryType = 'range' | 'instant' | 'table' | 'heatmap' | 'serviceGraph';

export interface MeshQuery extends DataQuery {
  expr: string;
  legendFormat?: string;
  queryType?: MeshQueryType;
  minStep?: string;
  sourceLabel?: string;
  targetLabel?: string;
}

export const DEFAULT_QUERY: Partial<MeshQuery> = {
  expr: '',
  queryType: 'range',
};

export type ClickHouseProtocol = 'native' | 'http';
export type SqlStrategy = 'auto' | 'native' | 'portable';

/** jsonData of a datasource; mirrors pkg/models/settings.go. */
export interface MeshDataSourceOptions extends DataSourceJsonData {
  host?: string;
  port?: number;
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
  maxOpenConns?: number;
  lookbackDelta?: string;
  scrapeInterval?: string;
  sqlStrategy?: SqlStrategy;
  maxSeries?: number;
}

/** secureJsonData: sent to the backend only, never read back. */
export interface MeshSecureJsonData {
  password?: string;
  tlsCACert?: string;
  tlsClientCert?: string;
  tlsClientKey?: string;
}
