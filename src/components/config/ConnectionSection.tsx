import React from 'react';
import { SelectableValue } from '@grafana/data';
import { Field, FieldSet, RadioButtonGroup, Switch } from '@grafana/ui';

import { ClickHouseProtocol } from '../../types';
import { SectionProps } from './common';
import { TextSetting } from './TextSetting';
import { durationProblem, hostProblem, identifierProblem, numberOrText, portProblem } from './validation';

const protocolOptions: Array<SelectableValue<ClickHouseProtocol>> = [
  { label: 'Native', value: 'native', description: 'ClickHouse native TCP protocol (port 9000, 9440 with TLS)' },
  { label: 'HTTP', value: 'http', description: 'ClickHouse HTTP interface (port 8123, 8443 with TLS)' },
];

/** ClickHouse's default port for a protocol, plain or TLS (as the backend picks it). */
export function defaultPort(protocol: ClickHouseProtocol = 'native', secure = false): number {
  if (protocol === 'http') {
    return secure ? 8443 : 8123;
  }
  return secure ? 9440 : 9000;
}

export function ConnectionSection({ jsonData, setJson }: SectionProps) {
  return (
    <FieldSet label="Connection">
      <TextSetting
        id="config-host"
        label="Host"
        description="Host name or IP address of the ClickHouse server"
        required
        value={jsonData.host}
        placeholder="clickhouse.observability.svc"
        problem={hostProblem(jsonData.host)}
        onChange={(host) => setJson({ host })}
      />
      <Field label="Protocol">
        <RadioButtonGroup<ClickHouseProtocol>
          options={protocolOptions}
          value={jsonData.protocol ?? 'native'}
          onChange={(protocol) => setJson({ protocol })}
        />
      </Field>
      <Field label="Secure connection" description="TLS to ClickHouse; the TLS settings below apply only then">
        <Switch
          id="config-secure"
          value={jsonData.secure ?? false}
          // Without TLS the certificate options mean nothing: turn them off with it.
          onChange={(e) => {
            const secure = e.currentTarget.checked;
            setJson(secure ? { secure } : { secure, tlsAuth: false, tlsAuthWithCACert: false, tlsSkipVerify: false });
          }}
        />
      </Field>
      <TextSetting
        id="config-port"
        label="Port"
        description="Empty for the protocol's default"
        width={12}
        value={jsonData.port}
        placeholder={String(defaultPort(jsonData.protocol, jsonData.secure))}
        problem={portProblem(jsonData.port)}
        onChange={(v) => setJson({ port: numberOrText(v) })}
      />
      <TextSetting
        id="config-database"
        label="Database"
        description="Where the collector's clickhouse exporter writes"
        value={jsonData.database}
        placeholder="otel"
        problem={identifierProblem(jsonData.database)}
        onChange={(database) => setJson({ database })}
      />
      <TextSetting
        id="config-dial-timeout"
        label="Dial timeout"
        description="How long to wait for a connection (at least 100ms)"
        width={12}
        value={jsonData.dialTimeout}
        placeholder="10s"
        problem={durationProblem(jsonData.dialTimeout, 0.1)}
        onChange={(dialTimeout) => setJson({ dialTimeout })}
      />
    </FieldSet>
  );
}
