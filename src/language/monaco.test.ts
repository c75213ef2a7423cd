import { fakeMonacoInstance } from '../test/fakeMonaco';
import { LANGUAGE_ID, registerPromQL } from './monaco';
import { metricRegex, scopedSelector } from './suggestions';

jest.mock('monaco-promql/promql/promql', () => ({
  language: { keywords: ['rate', 'sum'], tokenizer: { root: [] } },
  languageConfiguration: { brackets: [] },
}));

describe('registerPromQL', () => {
  it('registers monaco-promql highlighting under our id and resolves to its keywords', async () => {
    const monaco = fakeMonacoInstance();
    await expect(registerPromQL(monaco)).resolves.toEqual(['rate', 'sum']);
    expect(monaco.languages.register).toHaveBeenCalledWith(expect.objectContaining({ id: LANGUAGE_ID }));
    expect(monaco.languages.setMonarchTokensProvider).toHaveBeenCalledWith(
      LANGUAGE_ID,
      expect.objectContaining({ keywords: ['rate', 'sum'] })
    );
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
