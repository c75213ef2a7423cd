import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';

import { VariableQueryEditor } from './VariableQueryEditor';
import { MeshVariableQuery } from '../types';

function setup(query: MeshVariableQuery | string) {
  const onChange = jest.fn<void, [MeshVariableQuery, string]>();
  render(<VariableQueryEditor query={query} onChange={onChange} />);
  return onChange;
}

describe('VariableQueryEditor', () => {
  it('shows a stored label_values query as its parts', () => {
    setup({ refId: 'A', query: 'label_values(traefik_service_requests_total{code="200"}, service)' });
    expect(screen.getByDisplayValue('service')).toBeInTheDocument();
    expect(screen.getByDisplayValue('traefik_service_requests_total{code="200"}')).toBeInTheDocument();
  });

  it('saves label_values(label) and label_values(metric, label) on blur', () => {
    const onChange = setup('');
    const label = screen.getByPlaceholderText('service');
    fireEvent.change(label, { target: { value: 'code' } });
    fireEvent.blur(label);
    expect(onChange).toHaveBeenLastCalledWith(
      { refId: 'MeshMetricsVariable', query: 'label_values(code)' },
      'label_values(code)'
    );
    const metric = screen.getByPlaceholderText('traefik_service_requests_total (optional)');
    fireEvent.change(metric, { target: { value: 'traefik_service_requests_total' } });
    fireEvent.blur(metric);
    expect(onChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ query: 'label_values(traefik_service_requests_total, code)' }),
      'label_values(traefik_service_requests_total, code)'
    );
  });

  it('saves metrics(regex) and query_result(expr)', () => {
    const onChange = setup('');
    fireEvent.click(screen.getByLabelText('Metrics'));
    const regex = screen.getByPlaceholderText('traefik_.*');
    fireEvent.change(regex, { target: { value: 'traefik_service_.*' } });
    fireEvent.blur(regex);
    expect(onChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ query: 'metrics(traefik_service_.*)' }),
      'metrics(traefik_service_.*)'
    );
    fireEvent.click(screen.getByLabelText('Query result'));
    const expr = screen.getByPlaceholderText(/^topk/);
    fireEvent.change(expr, { target: { value: 'sum by (service) (up)' } });
    fireEvent.blur(expr);
    expect(onChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ query: 'query_result(sum by (service) (up))' }),
      'query_result(sum by (service) (up))'
    );
  });
});
