import { DataSourceInstanceSettings, PluginType } from '@grafana/data';

import { DataSource } from '../datasource';
import { MeshDataSourceOptions } from '../types';

export function instanceSettings(
  jsonData: MeshDataSourceOptions = {}
): DataSourceInstanceSettings<MeshDataSourceOptions> {
  return {
    uid: 'mesh',
    type: 'forma3d-meshmetrics-datasource',
    name: 'Mesh Metrics',
    access: 'proxy',
    readOnly: false,
    jsonData,
    meta: {
      id: 'forma3d-meshmetrics-datasource',
      name: 'Mesh Metrics',
      type: PluginType.datasource,
      module: '',
      baseUrl: '',
      info: {
        author: { name: 'Forma3D' },
        description: '',
        links: [],
        logos: { small: '', large: '' },
        screenshots: [],
        updated: '',
        version: '',
      },
    },
  };
}

/** A DataSource whose resource calls answer from `answers` (path → data) and are recorded. */
export function makeDataSource(answers: Record<string, unknown> = {}, jsonData: MeshDataSourceOptions = {}) {
  const ds = new DataSource(instanceSettings(jsonData));
  const getResource = jest.spyOn(ds, 'getResource').mockImplementation((path: string) => {
    if (path in answers) {
      return Promise.resolve({ data: answers[path] });
    }
    return Promise.reject({ status: 400, data: { error: `no answer for ${path}` } });
  });
  return { ds, getResource };
}
