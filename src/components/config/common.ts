import { DataSourcePluginOptionsEditorProps } from '@grafana/data';

import { MeshDataSourceOptions, MeshSecureJsonData } from '../../types';

export type ConfigProps = DataSourcePluginOptionsEditorProps<MeshDataSourceOptions, MeshSecureJsonData>;

/** Setters every section shares. */
export interface SectionProps {
  jsonData: MeshDataSourceOptions;
  setJson: (patch: Partial<MeshDataSourceOptions>) => void;
}

export interface SecretProps {
  secureJsonData?: MeshSecureJsonData;
  secureJsonFields: Record<string, boolean>;
  setSecret: (key: keyof MeshSecureJsonData, value: string) => void;
  resetSecret: (key: keyof MeshSecureJsonData) => void;
}

export function editorProps({ options, onOptionsChange }: ConfigProps): SectionProps & SecretProps {
  const { jsonData, secureJsonData, secureJsonFields } = options;
  return {
    jsonData,
    secureJsonData,
    secureJsonFields,
    setJson: (patch) => onOptionsChange({ ...options, jsonData: { ...jsonData, ...patch } }),
    setSecret: (key, value) => onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, [key]: value } }),
    resetSecret: (key) =>
      onOptionsChange({
        ...options,
        secureJsonFields: { ...secureJsonFields, [key]: false },
        secureJsonData: { ...secureJsonData, [key]: '' },
      }),
  };
}
