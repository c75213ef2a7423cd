import React, { ChangeEvent } from 'react';
import { Field, Input } from '@grafana/ui';

interface Props {
  id: string;
  label: string;
  description?: string;
  value?: string | number;
  placeholder?: string;
  problem?: string;
  required?: boolean;
  width?: number;
  onChange: (value: string) => void;
}

/** One text setting with its inline problem, if any. */
export function TextSetting({
  id,
  label,
  description,
  value,
  placeholder,
  problem,
  required,
  width = 40,
  onChange,
}: Props) {
  return (
    <Field label={label} description={description} invalid={!!problem} error={problem} required={required}>
      <Input
        id={id}
        value={value ?? ''}
        placeholder={placeholder}
        width={width}
        onChange={(e: ChangeEvent<HTMLInputElement>) => onChange(e.target.value)}
      />
    </Field>
  );
}
