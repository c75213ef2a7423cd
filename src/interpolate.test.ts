import { setTemplateSrv } from '@grafana/runtime';

import { escapeForQuote, escapeRegex, interpolateExpr, splitStrings } from './interpolate';
import { makeDataSource } from './test/datasource';
import { FakeTemplateSrv } from './test/templateSrv';

function interpolate(expr: string, value: string | string[], multi = false, includeAll = false): string {
  const { ds } = makeDataSource();
  setTemplateSrv(new FakeTemplateSrv([{ name: 'v', value, multi, includeAll }]));
  return ds.interpolateExpr(expr);
}

describe('splitStrings', () => {
  it('separates code from each kind of string literal, escapes included', () => {
    expect(splitStrings(`m{a="x\\"y",b='z',c=\`w\`}`)).toEqual([
      { text: 'm{a=' },
      { text: 'x\\"y', quote: '"', closed: true },
      { text: ',b=' },
      { text: 'z', quote: "'", closed: true },
      { text: ',c=' },
      { text: 'w', quote: '`', closed: true },
      { text: '}' },
    ]);
  });

  it('keeps an unterminated string unterminated', () => {
    expect(interpolateExpr('m{a="x', (t) => t)).toBe('m{a="x');
  });
});

describe('escaping', () => {
  it('escapes every RE2 metacharacter', () => {
    expect(escapeRegex('a.b*c|d(e)[f]{g}^$+?\\')).toBe('a\\.b\\*c\\|d\\(e\\)\\[f\\]\\{g\\}\\^\\$\\+\\?\\\\');
  });

  it('escapes backslash and the quote of the literal', () => {
    expect(escapeForQuote('a"b\'c\\', '"')).toBe('a\\"b\'c\\\\');
    expect(escapeForQuote('a"b\'c\\', "'")).toBe('a"b\\\'c\\\\');
    expect(escapeForQuote('a`b\\', '`')).toBe('a\\x60b\\');
  });
});

describe('template variables in expressions', () => {
  it('puts a single value in as is (a regex stays a regex), escaped for its literal', () => {
    expect(interpolate('m{job=~"$v"}', '.*')).toBe('m{job=~".*"}');
    expect(interpolate('m{job="$v"}', 'a"|b')).toBe('m{job="a\\"|b"}');
    expect(interpolate("m{job='$v'}", "it's")).toBe("m{job='it\\'s'}");
  });

  it('turns multi-value and All into a regex alternation of literal values', () => {
    expect(interpolate('m{job=~"$v"}', ['a"|b', '.*'], true)).toBe('m{job=~"(a\\"\\\\|b|\\\\.\\\\*)"}');
    expect(interpolate('m{job=~"$v"}', ['a', 'b'], false, true)).toBe('m{job=~"(a|b)"}');
    expect(interpolate('m{job=~"${v}"}', ['.*'], true)).toBe('m{job=~"\\\\.\\\\*"}');
  });

  it('never lets a value end its string literal', () => {
    const hostile = ['a"|b', '"}) or vector(1) #', 'x\\', '\\"', '.*', 'a\\b'];
    for (const value of hostile) {
      for (const multi of [false, true]) {
        const out = interpolate('m{job=~"$v", code="200"}', multi ? [value, 'ok'] : value, multi);
        // The literal still ends where the template's did: one string, then the next matcher.
        const segments = splitStrings(out);
        expect(segments.map((s) => s.quote ?? 'code')).toEqual(['code', '"', 'code', '"', 'code']);
        expect(segments[2].text).toBe(', code=');
      }
    }
  });

  it('makes an alternation that matches exactly the selected values', () => {
    const hostile = ['a"|b', '.*', 'a\\b', '(x)', '$y^'];
    const out = interpolate('m{p=~"$v"}', hostile, true);
    // The literal's content unquoted (PromQL's double-quoted strings escape as JSON's do here),
    // then anchored as Prometheus anchors a regex matcher.
    const literal = /m\{p=~("(?:[^"\\]|\\.)*")\}/.exec(out);
    const regex = new RegExp(`^(?:${JSON.parse(literal?.[1] ?? '""')})$`);
    for (const value of hostile) {
      expect(regex.test(value)).toBe(true);
    }
    for (const other of ['a', 'b', 'ab', 'anything', 'a\\\\b', 'x']) {
      expect(regex.test(other)).toBe(false);
    }
  });

  it('escapes backslashes so the value reaches the regex literally', () => {
    // "a\\b" is the value a\b; regex-escaped it is a\\b, in a literal a\\\\b.
    expect(interpolate('m{p=~"$v"}', ['a\\b', 'c'], true)).toBe('m{p=~"(a\\\\\\\\b|c)"}');
    expect(interpolate('m{p="$v"}', 'a\\b')).toBe('m{p="a\\\\b"}');
  });

  it('leaves code outside strings to the variable (metric names, durations)', () => {
    expect(interpolate('rate($v[5m])', 'traefik_service_requests_total')).toBe(
      'rate(traefik_service_requests_total[5m])'
    );
    expect(interpolate('sum by ($v) (m)', ['a', 'b'], true)).toBe('sum by ((a|b)) (m)');
  });

  it('leaves unknown variables and Grafana macros for the backend', () => {
    expect(interpolate('rate(m{a="$v"}[$__rate_interval])', 'x')).toBe('rate(m{a="x"}[$__rate_interval])');
  });
});

describe('DataSource.applyTemplateVariables', () => {
  it('interpolates every expression of a query and the plain fields', () => {
    const { ds } = makeDataSource();
    setTemplateSrv(
      new FakeTemplateSrv([
        { name: 'svc', value: ['a"|b', '.*'], multi: true },
        { name: 'step', value: '30s' },
      ])
    );
    const q = ds.applyTemplateVariables(
      {
        refId: 'A',
        expr: 'm{service=~"$svc"}',
        errorExpr: 'e{service=~"$svc"}',
        latencyExpr: 'l{service=~"$svc"}',
        fallbackExpr: 'fm{service=~"$svc"}',
        fallbackErrorExpr: 'fe{service=~"$svc"}',
        fallbackLatencyExpr: 'fl{service=~"$svc"}',
        fallbackSourceLabel: '$step',
        legendFormat: '{{service}} $step',
        minStep: '$step',
      },
      {}
    );
    const alternation = '(a\\"\\\\|b|\\\\.\\\\*)';
    expect(q.expr).toBe(`m{service=~"${alternation}"}`);
    expect(q.errorExpr).toBe(`e{service=~"${alternation}"}`);
    expect(q.latencyExpr).toBe(`l{service=~"${alternation}"}`);
    expect(q.fallbackExpr).toBe(`fm{service=~"${alternation}"}`);
    expect(q.fallbackErrorExpr).toBe(`fe{service=~"${alternation}"}`);
    expect(q.fallbackLatencyExpr).toBe(`fl{service=~"${alternation}"}`);
    expect(q.fallbackSourceLabel).toBe('30s');
    expect(q.fallbackTargetLabel).toBeUndefined();
    expect(q.legendFormat).toBe('{{service}} 30s');
    expect(q.minStep).toBe('30s');
  });

  it('interpolates queries for Explore with the datasource reference', () => {
    const { ds } = makeDataSource();
    setTemplateSrv(new FakeTemplateSrv([{ name: 'v', value: 'x' }]));
    const [q] = ds.interpolateVariablesInQueries([{ refId: 'A', expr: 'm{a="$v"}' }], {});
    expect(q.expr).toBe('m{a="x"}');
    expect(q.datasource).toEqual({ type: 'forma3d-meshmetrics-datasource', uid: 'mesh' });
  });
});
