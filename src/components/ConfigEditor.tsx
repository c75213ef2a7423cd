import React, { ChangeEvent } from 'react';
import { DataSourcePluginOptionsEditorProps, SelectableValue } from '@grafana/data';
import { Field, FieldSet, Input, RadioButtonGroup, SecretInput } from '@grafana/ui';

import { ClickHouseProtocol, MeshDataSourceOptions, MeshSecureJsonData } from '../types';

type Props = DataSourcePluginOptionsEditorProps<MeshDataSourceOptions, MeshSecureJsonData>;

const protocolOptions: Array<SelectableValue<ClickHouseProtocol>> = [
  { label: 'Native', value: 'native', description: 'ClickHouse native TCP protocol (port 9000, 9440 with TLS)' },
  { label: 'HTTP', value: 'http', description: 'ClickHouse HTTP interface (port 8123, 8443 with TLS)' },
];

/** The connection settings; the backend validates them again and names any bad field. */
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields, secureJsonData } = options;

  const setJson = <K extends keyof MeshDataSourceOptions>(key: K, value: MeshDataSourceOptions[K]) => {
    onOptionsChange({ ...options, jsonData: { ...jsonData, [key]: value } });
  };

  const onPortChange = (event: ChangeEvent<HTMLInputElement>) => {
    const raw = event.target.value.trim();
    setJson('port', raw === '' ? undefined : Number(raw));
  };

  const onPasswordChange = (event: ChangeEvent<HTMLInputElement>) => {
    onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, password: event.target.value } });
  };

  const onPasswordReset = () => {
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, password: false },
      secureJsonData: { ...secureJsonData, password: '' },
    });
  };

  const port = jsonData.port;
  const portInvalid = port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535);

  return (
    <FieldSet label="ClickHouse connection">
      <Field label="Host" description="Host name or IP address of the ClickHouse server" required invalid={!jsonData.host} error="Host is required">
        <Input
          id="config-host"
          value={jsonData.host ?? ''}
          placeholder="clickhouse.observability.svc"
          width={40}
          onChange={(e: ChangeEvent<HTMLInputElement>) => setJson('host', e.target.value)}
        />
      </Field>
      <Field label="Protocol">
        <RadioButtonGroup<ClickHouseProtocol>
          options={protocolOptions}
          value={jsonData.protocol ?? 'native'}
          onChange={(v) => setJson('protocol', v)}
        />
      </Field>
      <Field label="Port" description="Empty for the protocol's default" invalid={portInvalid} error="Port must be a whole number from 1 to 65535">
        <Input id="config-port" value={port ?? ''} placeholder="9000" width={12} onChange={onPortChange} />
      </Field>
      <Field label="Database" description="Where the collector's clickhouse exporter writes (default otel)">
        <Input
          id="config-database"
          value={jsonData.database ?? ''}
          placeholder="otel"
          width={40}
          onChange={(e: ChangeEvent<HTMLInputElement>) => setJson('database', e.target.value)}
        />
      </Field>
      <Field label="Username">
        <Input
          id="config-username"
          value={jsonData.username ?? ''}
          placeholder="default"
          width={40}
          onChange={(e: ChangeEvent<HTMLInputElement>) => setJson('username', e.target.value)}
        />
      </Field>
      <Field label="Password">
        <SecretInput
          id="config-password"
          isConfigured={secureJsonFields.password ?? false}
          value={secureJsonData?.password ?? ''}
          width={40}
          onReset={onPasswordReset}
          onChange={onPasswordChange}
        />
      </Field>
    </FieldSet>
  );
}
