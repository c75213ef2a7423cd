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

  function lastSettings(fn: jest.Mock<void, [Settings]>): Settings {
    return fn.mock.calls[fn.mock.calls.length - 1][0];
  }

  it('shows the exporter defaults as placeholders and the protocol default port', () => {
    const { rerender } = render(<ConfigEditor options={settings({ host: 'h' })} onOptionsChange={jest.fn()} />);
    for (const table of [
      'otel_metrics_sum',
      'otel_metrics_gauge',
      'otel_metrics_histogram',
      'otel_metrics_summary',
      'otel_metrics_exponential_histogram',
    ]) {
      expect(screen.getByPlaceholderText(table)).toBeInTheDocument();
    }
    expect(screen.getByPlaceholderText('otel')).toBeInTheDocument();
    expect(screen.getByPlaceholderText('15s')).toBeInTheDocument();
    rerender(
      <ConfigEditor options={settings({ host: 'h', protocol: 'http', secure: true })} onOptionsChange={jest.fn()} />
    );
    expect(screen.getByPlaceholderText('8443')).toBeInTheDocument();
  });

  it('flags durations, limits and names the backend would refuse', () => {
    render(
      <ConfigEditor
        options={settings({
          host: 'h',
          scrapeInterval: 'fast',
          queryTimeout: '500ms',
          maxSeries: 'lots',
          maxOpenConns: 0,
          sumTable: '1bad',
        })}
        onOptionsChange={jest.fn()}
      />
    );
    expect(screen.getByText('Must be a duration such as 15s, 1m or 1m30s')).toBeInTheDocument();
    expect(screen.getByText('Must be at least 1s')).toBeInTheDocument();
    expect(screen.getByText('Must be a whole number from 1 to 1000000')).toBeInTheDocument();
    expect(screen.getByText('Must be a whole number from 1 to 1000')).toBeInTheDocument();
    expect(screen.getByText('Letters, digits and underscores, not starting with a digit')).toBeInTheDocument();
  });

  it('accepts well-formed values without messages and stores limits as numbers', () => {
    const onOptionsChange = jest.fn<void, [Settings]>();
    render(
      <ConfigEditor
        options={settings({
          host: 'h',
          scrapeInterval: '30s',
          queryTimeout: '1m30s',
          dialTimeout: '500ms',
          maxSeries: 500,
          resultCacheTTL: '0s',
        })}
        onOptionsChange={onOptionsChange}
      />
    );
    expect(screen.queryByText(/^Must be/)).not.toBeInTheDocument();
    fireEvent.change(screen.getByPlaceholderText('10m'), { target: { value: '2m' } });
    expect(lastSettings(onOptionsChange).jsonData.resultCacheTTL).toBe('2m');
    fireEvent.change(screen.getByPlaceholderText('10'), { target: { value: '20' } });
    expect(lastSettings(onOptionsChange).jsonData.maxOpenConns).toBe(20);
  });

  it('shows the TLS settings only for a secure connection, and clears them when TLS is turned off', () => {
    const onOptionsChange = jest.fn<void, [Settings]>();
    const { rerender } = render(<ConfigEditor options={settings({ host: 'h' })} onOptionsChange={onOptionsChange} />);
    expect(screen.queryByText('With CA certificate')).not.toBeInTheDocument();
    rerender(
      <ConfigEditor
        options={settings({ host: 'h', secure: true, tlsAuthWithCACert: true })}
        onOptionsChange={onOptionsChange}
      />
    );
    expect(screen.getByText('CA certificate is required')).toBeInTheDocument();
    fireEvent.click(screen.getByLabelText(/^Secure connection/));
    expect(lastSettings(onOptionsChange).jsonData).toEqual({
      host: 'h',
      secure: false,
      tlsAuth: false,
      tlsAuthWithCACert: false,
      tlsSkipVerify: false,
    });
  });

  it('keeps certificates in secureJsonData and resets a configured key', () => {
    const onOptionsChange = jest.fn<void, [Settings]>();
    render(
      <ConfigEditor
        options={settings({ host: 'h', secure: true, tlsAuth: true }, { tlsClientCert: true, tlsClientKey: true })}
        onOptionsChange={onOptionsChange}
      />
    );
    expect(screen.queryByText('Client key is required')).not.toBeInTheDocument();
    const resets = screen.getAllByRole('button', { name: 'Reset' });
    // Client certificate, client key, then the password.
    fireEvent.click(resets[1]);
    const last = lastSettings(onOptionsChange);
    expect(last.secureJsonFields.tlsClientKey).toBe(false);
    expect(last.secureJsonData?.tlsClientKey).toBe('');
    expect(last.jsonData.tlsAuth).toBe(true);
  });

  it('stores the SQL strategy', () => {
    const onOptionsChange = jest.fn<void, [Settings]>();
    render(<ConfigEditor options={settings({ host: 'h' })} onOptionsChange={onOptionsChange} />);
    fireEvent.click(screen.getByLabelText('Portable'));
    expect(lastSettings(onOptionsChange).jsonData.sqlStrategy).toBe('portable');
  });
});
