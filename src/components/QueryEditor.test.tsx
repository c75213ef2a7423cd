import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';

import { QueryEditor } from './QueryEditor';
import { DataSource } from '../datasource';
import { MeshQuery } from '../types';

function setup(query: Partial<MeshQuery> = {}) {
  const onChange = jest.fn<void, [MeshQuery]>();
  const onRunQuery = jest.fn<void, []>();
  const full: MeshQuery = { refId: 'A', expr: '', ...query };
  // The editor never calls the datasource; an empty object of its type is enough.
  const datasource = {} as DataSource;
  render(<QueryEditor query={full} datasource={datasource} onChange={onChange} onRunQuery={onRunQuery} />);
  return { onChange, onRunQuery };
}

describe('QueryEditor', () => {
  it('writes the typed expression into the query', () => {
    const { onChange } = setup();
    fireEvent.change(screen.getByPlaceholderText('rate(traefik_service_requests_total[5m])'), {
      target: { value: 'sum(rate(traefik_service_requests_total[5m]))' },
    });
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ expr: 'sum(rate(traefik_service_requests_total[5m]))' }));
  });

  it('runs the query on Shift+Enter but not on a plain Enter', () => {
    const { onRunQuery } = setup({ expr: 'up' });
    const editor = screen.getByDisplayValue('up');
    fireEvent.keyDown(editor, { key: 'Enter' });
    expect(onRunQuery).not.toHaveBeenCalled();
    fireEvent.keyDown(editor, { key: 'Enter', shiftKey: true });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('runs the query when the expression loses focus', () => {
    const { onRunQuery } = setup({ expr: 'up' });
    fireEvent.blur(screen.getByDisplayValue('up'));
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('switches the query type and runs the query', () => {
    const { onChange, onRunQuery } = setup({ expr: 'up', queryType: 'range' });
    fireEvent.click(screen.getByLabelText('Instant'));
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ queryType: 'instant' }));
    expect(onRunQuery).toHaveBeenCalled();
  });
});
