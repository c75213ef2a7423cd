import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import { DataSourceSettings } from '@grafana/data';

import { ConfigEditor } from './ConfigEditor';
import { MeshDataSourceOptions, MeshSecureJsonData } from '../types';

type Settings = DataSourceSettings<MeshDataSourceOptions, MeshSecureJsonData>;

// DataSourceSettings still requires its deprecated top-level `database`;
// this plugin keeps the database in jsonData and leaves that one empty.
const legacyFields: Record<'database', string> = { database: '' };

function settings(jsonData: MeshDataSourceOptions, secureJsonFields: Record<string, boolean> = {}): Settings {
  return {
    ...legacyFields,
    id: 1,
    uid: 'mesh',
    orgId: 1,
    name: 'Mesh Metrics',
    typeLogoUrl: '',
    type: 'forma3d-meshmetrics-datasource',
    typeName: 'Mesh Metrics',
    access: 'proxy',
    url: '',
    user: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    jsonData,
    secureJsonFields,
    readOnly: false,
    withCredentials: false,
  };
}

describe('ConfigEditor', () => {
  it('stores the host in jsonData', () => {
    const onOptionsChange = jest.fn<void, [Settings]>();
    render(<ConfigEditor options={settings({})} onOptionsChange={onOptionsChange} />);
    fireEvent.change(screen.getByPlaceholderText('clickhouse.observability.svc'), { target: { value: 'ch.local' } });
    expect(onOptionsChange).toHaveBeenCalledWith(expect.objectContaining({ jsonData: { host: 'ch.local' } }));
  });

  it('says the host is required when it is empty', () => {
    render(<ConfigEditor options={settings({})} onOptionsChange={jest.fn()} />);
    expect(screen.getByText('Host is required')).toBeInTheDocument();
  });

  it('flags a port outside 1..65535 and stores it as a number', () => {
    const onOptionsChange = jest.fn<void, [Settings]>();
    const { rerender } = render(<ConfigEditor options={settings({ host: 'h' })} onOptionsChange={onOptionsChange} />);
    fireEvent.change(screen.getByPlaceholderText('9000'), { target: { value: '8123' } });
    expect(onOptionsChange).toHaveBeenLastCalledWith(expect.objectContaining({ jsonData: { host: 'h', port: 8123 } }));
    rerender(<ConfigEditor options={settings({ host: 'h', port: 70000 })} onOptionsChange={onOptionsChange} />);
    expect(screen.getByText('Port must be a whole number from 1 to 65535')).toBeInTheDocument();
  });

  it('keeps the password in secureJsonData and resets a configured one', () => {
    const onOptionsChange = jest.fn<void, [Settings]>();
    render(<ConfigEditor options={settings({ host: 'h' }, { password: true })} onOptionsChange={onOptionsChange} />);
    fireEvent.click(screen.getByRole('button', { name: 'Reset' }));
    const last = onOptionsChange.mock.calls[onOptionsChange.mock.calls.length - 1][0];
    expect(last.secureJsonFields.password).toBe(false);
    expect(last.secureJsonData?.password).toBe('');
    expect(last.jsonData).toEqual({ host: 'h' });
  });
});
