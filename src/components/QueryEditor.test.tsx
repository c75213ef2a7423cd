import React from 'react';
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { dateTime, TimeRange } from '@grafana/data';
import { setTemplateSrv } from '@grafana/runtime';

import { QueryEditor } from './QueryEditor';
import { makeDataSource } from '../test/datasource';
import { complete, FakeCodeEditor, fakeMonaco } from '../test/fakeMonaco';
import { FakeTemplateSrv } from '../test/templateSrv';
import { MeshQuery } from '../types';

jest.mock('@grafana/ui', () => ({
  ...jest.requireActual('@grafana/ui'),
  CodeEditor: (props: React.ComponentProps<typeof FakeCodeEditor>) => <FakeCodeEditor {...props} />,
}));

const range: TimeRange = {
  from: dateTime(1_700_000_000_000),
  to: dateTime(1_700_003_600_000),
  raw: { from: 'now-1h', to: 'now' },
};

const answers = {
  metrics: [{ name: 'traefik_service_requests_total', type: 'counter', description: 'Requests per service' }],
  labels: ['__name__', 'code', 'service'],
  'label-values': ['api', 'api-gateway'],
  explain: 'SELECT 1 FROM otel.otel_metrics_sum',
};

function setup(query: Partial<MeshQuery> = {}, resources: Record<string, unknown> = answers) {
  setTemplateSrv(new FakeTemplateSrv([{ name: 'svc', value: 'api' }]));
  fakeMonaco.reset();
  const onChange = jest.fn<void, [MeshQuery]>();
  const onRunQuery = jest.fn<void, []>();
  const { ds, getResource } = makeDataSource(resources);
  const full: MeshQuery = { refId: 'A', expr: '', ...query };
  render(<QueryEditor query={full} datasource={ds} range={range} onChange={onChange} onRunQuery={onRunQuery} />);
  return { onChange, onRunQuery, getResource };
}

describe('QueryEditor', () => {
  it('writes the expression and runs the query when the editor loses focus', () => {
    const { onChange, onRunQuery } = setup();
    const editor = screen.getAllByTestId('code-editor')[0];
    fireEvent.change(editor, { target: { value: 'sum(rate(traefik_service_requests_total[5m]))' } });
    fireEvent.blur(editor);
    expect(onChange).toHaveBeenCalledWith(
      expect.objectContaining({ expr: 'sum(rate(traefik_service_requests_total[5m]))' })
    );
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('runs the query on Shift+Enter but not on a plain Enter', () => {
    const { onChange, onRunQuery } = setup({ expr: 'up' });
    const editor = screen.getAllByTestId('code-editor')[0];
    fireEvent.keyDown(editor, { key: 'Enter' });
    expect(onRunQuery).not.toHaveBeenCalled();
    fireEvent.keyDown(editor, { key: 'Enter', shiftKey: true });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ expr: 'up' }));
  });

  it('completes metric names with the typed prefix and the dashboard time range', async () => {
    const { getResource } = setup();
    const items = await complete('sum(rate(traefik_se');
    expect(getResource).toHaveBeenCalledWith('metrics', {
      match: 'traefik_se.*',
      start: 1_700_000_000,
      end: 1_700_003_600,
    });
    expect(items[0]).toEqual(expect.objectContaining({ label: 'traefik_service_requests_total', detail: 'counter' }));
    expect(items[0].range).toEqual({ startLineNumber: 1, endLineNumber: 1, startColumn: 10, endColumn: 20 });
  });

  it('offers PromQL functions and dashboard variables as well', async () => {
    setup();
    const items = await complete('histogram_q');
    expect(items.map((i) => i.label)).toContain('histogram_quantile');
    expect((await complete('rate(m{a="x"}[$')).map((i) => i.label)).toContain('$__rate_interval');
    expect((await complete('$')).map((i) => i.label)).toEqual(['$svc']);
  });

  it('completes label names of the selector typed so far', async () => {
    const { getResource } = setup();
    const items = await complete('traefik_service_requests_total{code="200", se');
    expect(getResource).toHaveBeenCalledWith('labels', {
      match: 'traefik_service_requests_total{code="200"}',
      start: 1_700_000_000,
      end: 1_700_003_600,
    });
    expect(items.map((i) => i.label)).toEqual(['code', 'service']);
  });

  it('completes label values scoped by the typed value prefix, escaped for the literal', async () => {
    const { getResource } = setup({}, { ...answers, 'label-values': ['api', 'say "hi"'] });
    const items = await complete('traefik_service_requests_total{service="ap');
    expect(getResource).toHaveBeenCalledWith('label-values', {
      label: 'service',
      match: 'traefik_service_requests_total{service=~"ap.*"}',
      start: 1_700_000_000,
      end: 1_700_003_600,
    });
    expect(items.map((i) => i.insertText)).toEqual(['api', 'say \\"hi\\"']);
  });

  it('offers nothing when the backend refuses the selector', async () => {
    setup({}, {});
    await expect(complete('m{')).resolves.toEqual([]);
  });

  it('switches the query type and runs the query', () => {
    const { onChange, onRunQuery } = setup({ expr: 'up', queryType: 'range' });
    fireEvent.click(screen.getByLabelText('Instant'));
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ queryType: 'instant' }));
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('stores legend and min step, and flags a min step that is no duration', () => {
    const { onChange } = setup({ expr: 'up', minStep: 'often' });
    fireEvent.change(screen.getByPlaceholderText('{{service}}'), { target: { value: '{{code}}' } });
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ legendFormat: '{{code}}' }));
    expect(screen.getByText('Min step must be a duration such as 30s or 1m')).toBeInTheDocument();
  });

  it('shows the service graph options only for a service graph', () => {
    setup({ expr: 'up', queryType: 'range' });
    expect(screen.queryByPlaceholderText('instance')).not.toBeInTheDocument();
  });

  it('edits the service graph labels and expressions, and flags equal labels', () => {
    const { onChange } = setup({ expr: 'up', queryType: 'serviceGraph', sourceLabel: 'service' });
    expect(screen.getByText('Source and target label must differ')).toBeInTheDocument();
    fireEvent.change(screen.getByPlaceholderText('instance'), { target: { value: 'pod' } });
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ sourceLabel: 'pod' }));
    const [, errorEditor] = screen.getAllByTestId('code-editor');
    fireEvent.change(errorEditor, { target: { value: 'sum(rate(e[5m]))' } });
    fireEvent.blur(errorEditor);
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ errorExpr: 'sum(rate(e[5m]))' }));
  });

  it('shows the SQL the backend explains for the expression, variables and macros put in', async () => {
    const { getResource } = setup({ expr: 'rate(m{service="$svc"}[$__rate_interval])' });
    expect(screen.queryByTestId('explain-sql')).not.toBeInTheDocument();
    await act(async () => fireEvent.click(screen.getByLabelText('Explain SQL')));
    await waitFor(() =>
      expect(screen.getByTestId('explain-sql')).toHaveTextContent('SELECT 1 FROM otel.otel_metrics_sum')
    );
    expect(getResource).toHaveBeenCalledWith('explain', {
      expr: 'rate(m{service="api"}[60s])',
      start: 1_700_000_000,
      end: 1_700_003_600,
    });
  });

  it('shows the backend error when it cannot explain', async () => {
    const { explain, ...noExplain } = answers;
    expect(explain).toBeTruthy();
    setup({ expr: 'rate(' }, noExplain);
    await act(async () => fireEvent.click(screen.getByLabelText('Explain SQL')));
    await waitFor(() => expect(screen.getByText('no answer for explain')).toBeInTheDocument());
    expect(screen.getByText('Cannot explain this expression')).toBeInTheDocument();
  });
});
