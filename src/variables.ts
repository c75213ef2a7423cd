import { CustomVariableSupport, DataQueryRequest, DataQueryResponse } from '@grafana/data';
import { from, map, Observable } from 'rxjs';

import { VariableQueryEditor } from './components/VariableQueryEditor';
import type { DataSource } from './datasource';
import { MeshVariableQuery } from './types';

/** Template variables: the editor and metricFindQuery, as Grafana's Prometheus datasource wires them. */
export class MeshVariableSupport extends CustomVariableSupport<DataSource, MeshVariableQuery> {
  editor = VariableQueryEditor;

  constructor(private readonly datasource: DataSource) {
    super();
  }

  query(request: DataQueryRequest<MeshVariableQuery>): Observable<DataQueryResponse> {
    const [target] = request.targets;
    return from(this.datasource.metricFindQuery(target, { range: request.range, scopedVars: request.scopedVars })).pipe(
      map((data) => ({ data }))
    );
  }
}
