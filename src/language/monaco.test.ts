import { fakeMonacoInstance } from '../test/fakeMonaco';
import { LANGUAGE_ID, registerPromQL } from './monaco';
import { language } from './promql';
import { metricRegex, scopedSelector } from './suggestions';

describe('registerPromQL', () => {
  it('registers the PromQL Monarch definition under our id, once per Monaco', () => {
    const monaco = fakeMonacoInstance();
    registerPromQL(monaco);
    registerPromQL(monaco);
    expect(monaco.languages.register).toHaveBeenCalledTimes(1);
    expect(monaco.languages.register).toHaveBeenCalledWith(expect.objectContaining({ id: LANGUAGE_ID }));
    expect(monaco.languages.setMonarchTokensProvider).toHaveBeenCalledWith(LANGUAGE_ID, language);
    expect(language.keywords).toEqual(expect.arrayContaining(['rate', 'histogram_quantile', 'sum', 'by']));
  });
});

describe('request scoping', () => {
  it('anchors the typed metric prefix as a regex', () => {
    expect(metricRegex('')).toBe('');
    expect(metricRegex('traefik_se')).toBe('traefik_se.*');
  });

  it('adds a regex matcher for a typed value prefix, escaped', () => {
    expect(scopedSelector('m{}', 'service', '')).toBe('m{}');
    expect(scopedSelector('m{}', 'service', 'a.b"')).toBe('m{service=~"a\\\\.b\\".*"}');
    expect(scopedSelector('m{code="200"}', 'service', 'api')).toBe('m{code="200",service=~"api.*"}');
    expect(scopedSelector('', 'service', 'api')).toBe('{service=~"api.*"}');
  });
});
