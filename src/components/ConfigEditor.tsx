import React from 'react';
import { Stack } from '@grafana/ui';

import { AuthSection } from './config/AuthSection';
import { ConfigProps, editorProps } from './config/common';
import { ConnectionSection } from './config/ConnectionSection';
import { QuerySection } from './config/QuerySection';
import { TablesSection } from './config/TablesSection';
import { TlsSection } from './config/TlsSection';

/** Every setting of the backend, grouped; the backend validates them again and names any bad field. */
export function ConfigEditor(props: ConfigProps) {
  const p = editorProps(props);
  return (
    <Stack direction="column" gap={2}>
      <ConnectionSection {...p} />
      {p.jsonData.secure && <TlsSection {...p} />}
      <AuthSection {...p} />
      <TablesSection {...p} />
      <QuerySection {...p} />
    </Stack>
  );
}
