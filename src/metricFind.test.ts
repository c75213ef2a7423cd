import { DataQueryRequest, dateTime, FieldType, toDataFrame, TimeRange } from '@grafana/data';
import { setTemplateSrv } from '@grafana/runtime';
import { lastValueFrom, of } from 'rxjs';

import { parseVariableQuery, queryResultValues } from './metricFind';
import { makeDataSource } from './test/datasource';
import { FakeTemplateSrv } from './test/templateSrv';
import { MeshVariableQuery } from './types';
import { MeshVariableSupport } from './variables';

const range: TimeRange = {
  from: dateTime(1_700_000_000_000),
  to: dateTime(1_700_003_600_000),
  raw: { from: 'now-1h', to: 'now' },
};
const span = { start: 1_700_000_000, end: 1_700_003_600 };

describe('parseVariableQuery', () => {
  it('reads the four functions', () => {
    expect(parseVariableQuery('label_values(service)')).toEqual({ kind: 'labelValues', label: 'service' });
    expect(parseVariableQuery('label_values(m{a="x, y"}, service)')).toEqual({
      kind: 'labelValues',
      label: 'service',
      match: 'm{a="x, y"}',
    });
    expect(parseVariableQuery(' metrics(traefik_.*) ')).toEqual({ kind: 'metrics', regex: 'traefik_.*' });
    expect(parseVariableQuery('query_result(sum(rate(m[5m])))')).toEqual({
      kind: 'queryResult',
      expr: 'sum(rate(m[5m]))',
    });
    expect(parseVariableQuery('up')).toBeUndefined();
  });
});

describe('DataSource.metricFindQuery', () => {
  beforeEach(() => setTemplateSrv(new FakeTemplateSrv([{ name: 'svc', value: ['a"|b', 'c'], multi: true }])));

  it('label_values(metric, label) asks label-values with the selector, variables escaped, and the range', async () => {
    const { ds, getResource } = makeDataSource({ 'label-values': ['200', '500'] });
    const values = await ds.metricFindQuery({ refId: 'v', query: 'label_values(m{service=~"$svc"}, code)' }, { range });
    expect(values).toEqual([{ text: '200' }, { text: '500' }]);
    expect(getResource).toHaveBeenCalledWith('label-values', {
      label: 'code',
      match: 'm{service=~"(a\\"\\\\|b|c)"}',
      ...span,
    });
  });

  it('label_values(label) asks for every series', async () => {
    const { ds, getResource } = makeDataSource({ 'label-values': ['api'] });
    await ds.metricFindQuery('label_values(service)', { range });
    expect(getResource).toHaveBeenCalledWith('label-values', { label: 'service', match: '', ...span });
  });

  it('metrics(regex) lists metric names', async () => {
    const { ds, getResource } = makeDataSource({ metrics: [{ name: 'traefik_a', type: 'counter' }] });
    expect(await ds.metricFindQuery('metrics(traefik_.*)', { range })).toEqual([{ text: 'traefik_a' }]);
    expect(getResource).toHaveBeenCalledWith('metrics', { match: 'traefik_.*', ...span });
  });

  it('query_result(expr) runs an instant query and lists its series', async () => {
    const { ds } = makeDataSource();
    const frame = toDataFrame({
      fields: [
        { name: 'Time', type: FieldType.time, values: [1_700_003_600_000] },
        { name: 'Value', type: FieldType.number, values: [2.5], labels: { __name__: 'up', service: 'api' } },
      ],
    });
    const query = jest.spyOn(ds, 'query').mockReturnValue(of({ data: [frame] }));
    expect(await ds.metricFindQuery('query_result(up)', { range })).toEqual([
      { text: 'up{service="api"} 2.5 1700003600000' },
    ]);
    expect(query.mock.calls[0][0].targets).toEqual([expect.objectContaining({ expr: 'up', queryType: 'instant' })]);
    expect(query.mock.calls[0][0].range).toBe(range);
  });

  it('reports the backend error and an unknown function', async () => {
    const { ds } = makeDataSource({});
    await expect(ds.metricFindQuery('metrics(x)', { range })).rejects.toThrow('no answer for metrics');
    await expect(ds.metricFindQuery('series(x)', { range })).rejects.toThrow(/Unknown variable query/);
  });
});

describe('variable support', () => {
  it('runs the variable query through metricFindQuery with the request range', async () => {
    setTemplateSrv(new FakeTemplateSrv());
    const { ds, getResource } = makeDataSource({ 'label-values': ['api'] });
    expect(ds.variables).toBeInstanceOf(MeshVariableSupport);
    const support = new MeshVariableSupport(ds);
    const request = { targets: [{ refId: 'v', query: 'label_values(service)' }], range, scopedVars: {} };
    const response = await lastValueFrom(support.query(request as DataQueryRequest<MeshVariableQuery>));
    expect(response.data).toEqual([{ text: 'api' }]);
    expect(getResource).toHaveBeenCalledWith('label-values', { label: 'service', match: '', ...span });
  });
});

describe('queryResultValues', () => {
  it('writes series without a name by their labels', () => {
    const frame = toDataFrame({
      fields: [{ name: 'Value', type: FieldType.number, values: [1], labels: { b: '2', a: '1' } }],
    });
    expect(queryResultValues([frame])).toEqual([{ text: '{a="1", b="2"} 1' }]);
  });
});
