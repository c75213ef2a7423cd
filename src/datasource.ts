import { CoreApp, DataSourceInstanceSettings, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';

import { DEFAULT_QUERY, MeshDataSourceOptions, MeshQuery } from './types';

export class DataSource extends DataSourceWithBackend<MeshQuery, MeshDataSourceOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<MeshDataSourceOptions>) {
    super(instanceSettings);
  }

  getDefaultQuery(_: CoreApp): Partial<MeshQuery> {
    return DEFAULT_QUERY;
  }

  applyTemplateVariables(query: MeshQuery, scopedVars: ScopedVars): MeshQuery {
    return {
      ...query,
      expr: getTemplateSrv().replace(query.expr, scopedVars),
      legendFormat: query.legendFormat,
    };
  }

  filterQuery(query: MeshQuery): boolean {
    // An empty editor is not a query: do not ask the backend.
    return !query.hide && (query.expr ?? '').trim() !== '';
  }
}
