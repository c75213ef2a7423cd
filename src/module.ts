import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import { MeshDataSourceOptions, MeshQuery } from './types';

// Template variables: DataSource.variables (src/variables.ts).
export const plugin = new DataSourcePlugin<DataSource, MeshQuery, MeshDataSourceOptions>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
