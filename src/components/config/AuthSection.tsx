import React, { ChangeEvent } from 'react';
import { Field, FieldSet, Input, SecretInput } from '@grafana/ui';

import { SecretProps, SectionProps } from './common';

export function AuthSection({
  jsonData,
  setJson,
  secureJsonData,
  secureJsonFields,
  setSecret,
  resetSecret,
}: SectionProps & SecretProps) {
  return (
    <FieldSet label="Authentication">
      <Field label="Username" description="ClickHouse user (default: default)">
        <Input
          id="config-username"
          value={jsonData.username ?? ''}
          placeholder="default"
          width={40}
          onChange={(e: ChangeEvent<HTMLInputElement>) => setJson({ username: e.target.value })}
        />
      </Field>
      <Field label="Password">
        <SecretInput
          id="config-password"
          isConfigured={secureJsonFields.password ?? false}
          value={secureJsonData?.password ?? ''}
          placeholder="Password"
          width={40}
          onReset={() => resetSecret('password')}
          onChange={(e: ChangeEvent<HTMLInputElement>) => setSecret('password', e.target.value)}
        />
      </Field>
    </FieldSet>
  );
}
