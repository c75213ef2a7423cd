import { completionContext } from './context';

describe('completionContext', () => {
  it('completes metric names and functions from the typed word', () => {
    expect(completionContext('traefik_se')).toEqual({ kind: 'metric', prefix: 'traefik_se' });
    expect(completionContext('sum(rate(tra')).toEqual({ kind: 'metric', prefix: 'tra' });
    expect(completionContext('a + ')).toEqual({ kind: 'metric', prefix: '' });
  });

  it('completes label names inside a selector, scoped by its metric and finished matchers', () => {
    expect(completionContext('traefik_service_requests_total{')).toEqual({
      kind: 'labelName',
      prefix: '',
      selector: 'traefik_service_requests_total{}',
    });
    expect(completionContext('m{code="200", se')).toEqual({
      kind: 'labelName',
      prefix: 'se',
      selector: 'm{code="200"}',
    });
  });

  it('completes label values inside and before the quotes, without the label itself in the selector', () => {
    expect(completionContext('m{code="200",service=~"api')).toEqual({
      kind: 'labelValue',
      label: 'service',
      prefix: 'api',
      quote: '"',
      selector: 'm{code="200"}',
    });
    expect(completionContext('m{service=')).toEqual({
      kind: 'labelValue',
      label: 'service',
      prefix: '',
      selector: 'm{}',
    });
  });

  it('completes label names in by/without/on clauses', () => {
    expect(completionContext('sum by (serv')).toEqual({ kind: 'labelName', prefix: 'serv', selector: '' });
    expect(completionContext('sum without (code, ')).toEqual({ kind: 'labelName', prefix: '', selector: '' });
  });

  it('offers durations in a range and nothing inside other strings', () => {
    expect(completionContext('rate(m[')).toEqual({ kind: 'duration', prefix: '' });
    expect(completionContext('label_replace(m, "dst", "$1", "src", "a')).toEqual({ kind: 'none' });
  });
});
