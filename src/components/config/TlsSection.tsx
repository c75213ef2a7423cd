import React, { ChangeEvent } from 'react';
import { Field, FieldSet, SecretTextArea, Switch } from '@grafana/ui';

import { MeshSecureJsonData } from '../../types';
import { SecretProps, SectionProps } from './common';

interface PemProps extends SecretProps {
  field: keyof MeshSecureJsonData;
  label: string;
  placeholder: string;
}

function PemSetting({ field, label, placeholder, secureJsonData, secureJsonFields, setSecret, resetSecret }: PemProps) {
  const configured = secureJsonFields[field] ?? false;
  const value = secureJsonData?.[field] ?? '';
  return (
    <Field label={label} required invalid={!configured && value.trim() === ''} error={`${label} is required`}>
      <SecretTextArea
        id={`config-${field}`}
        isConfigured={configured}
        value={value}
        placeholder={placeholder}
        rows={5}
        cols={60}
        onReset={() => resetSecret(field)}
        onChange={(e: ChangeEvent<HTMLTextAreaElement>) => setSecret(field, e.target.value)}
      />
    </Field>
  );
}

/** TLS options; shown only for a secure connection, where they apply. */
export function TlsSection(props: SectionProps & SecretProps) {
  const { jsonData, setJson } = props;
  return (
    <FieldSet label="TLS">
      <Field label="Skip certificate verification" description="Accept any server certificate (insecure; for testing)">
        <Switch
          id="config-tls-skip-verify"
          value={jsonData.tlsSkipVerify ?? false}
          onChange={(e) => setJson({ tlsSkipVerify: e.currentTarget.checked })}
        />
      </Field>
      <Field label="With CA certificate" description="Verify the server against this CA instead of the system's">
        <Switch
          id="config-tls-ca"
          value={jsonData.tlsAuthWithCACert ?? false}
          onChange={(e) => setJson({ tlsAuthWithCACert: e.currentTarget.checked })}
        />
      </Field>
      {jsonData.tlsAuthWithCACert && (
        <PemSetting {...props} field="tlsCACert" label="CA certificate" placeholder="-----BEGIN CERTIFICATE-----" />
      )}
      <Field label="TLS client authentication" description="Present a client certificate to ClickHouse">
        <Switch
          id="config-tls-auth"
          value={jsonData.tlsAuth ?? false}
          onChange={(e) => setJson({ tlsAuth: e.currentTarget.checked })}
        />
      </Field>
      {jsonData.tlsAuth && (
        <>
          <PemSetting
            {...props}
            field="tlsClientCert"
            label="Client certificate"
            placeholder="-----BEGIN CERTIFICATE-----"
          />
          <PemSetting {...props} field="tlsClientKey" label="Client key" placeholder="-----BEGIN PRIVATE KEY-----" />
        </>
      )}
    </FieldSet>
  );
}
