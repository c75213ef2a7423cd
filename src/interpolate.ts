/**
 * Template variable interpolation, as Grafana's Prometheus datasource does it
 * (multi-value and "All" become a regex alternation of regex-escaped values),
 * with one addition: a value is escaped for the string literal it lands in, so
 * no value can close its literal or start an escape sequence.
 */

export type Quote = '"' | "'" | '`';

/** A piece of an expression: code outside strings, or a string's content. */
export interface Segment {
  text: string;
  quote?: Quote;
  /** Whether the string literal has its closing quote. */
  closed?: boolean;
}

/** Splits a PromQL expression into code and string-literal contents. */
export function splitStrings(expr: string): Segment[] {
  const out: Segment[] = [];
  let code = '';
  let i = 0;
  while (i < expr.length) {
    const c = expr[i];
    if (c !== '"' && c !== "'" && c !== '`') {
      code += c;
      i++;
      continue;
    }
    if (code) {
      out.push({ text: code });
      code = '';
    }
    let j = i + 1;
    let text = '';
    while (j < expr.length && expr[j] !== c) {
      // Raw (backtick) strings have no escapes.
      if (expr[j] === '\\' && c !== '`' && j + 1 < expr.length) {
        text += expr[j];
        j++;
      }
      text += expr[j];
      j++;
    }
    out.push({ text, quote: c, closed: j < expr.length });
    i = j + 1;
  }
  if (code) {
    out.push({ text: code });
  }
  return out;
}

/** Escapes RE2 metacharacters so the value matches itself literally. */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$.|?*+()[\]{}]/g, (c) => '\\' + c);
}

/** Escapes a value for the inside of a PromQL string literal with this quote. */
export function escapeForQuote(value: string, quote: Quote): string {
  if (quote === '`') {
    // A raw string has no escapes: a backtick becomes RE2's \x60, the only
    // spelling that cannot end the literal.
    return value.replace(/`/g, '\\x60');
  }
  return value
    .replace(/\\/g, '\\\\')
    .split(quote)
    .join('\\' + quote);
}

/** The variable properties the formatter looks at. */
export interface FormattedVariable {
  multi?: boolean;
  includeAll?: boolean;
}

type RawValue = string | number | boolean | Array<string | number | boolean> | null | undefined;

function values(value: RawValue): string[] {
  if (value === null || value === undefined) {
    return [''];
  }
  return (Array.isArray(value) ? value : [value]).map(String);
}

/**
 * The templateSrv formatter for one context: `quote` when the variable is
 * inside a string literal, none outside. A single-valued variable is put in as
 * is (Prometheus' convention: `{job=~"$job"}` with `.*` stays a regex), only
 * escaped for its literal. A multi-value or "All" variable becomes `(a|b)`
 * whose every value matches itself literally. A custom "All" value (e.g.
 * `.*`) never reaches a formatter: Grafana puts it in raw.
 */
export function formatterFor(quote?: Quote) {
  const literal = (v: string) => (quote ? escapeForQuote(v, quote) : v);
  return (value: RawValue, variable: FormattedVariable = {}): string => {
    const vs = values(value);
    if (!variable.multi && !variable.includeAll) {
      return literal(vs.join(','));
    }
    const escaped = vs.map((v) => literal(escapeRegex(v)));
    return escaped.length === 1 ? escaped[0] : '(' + escaped.join('|') + ')';
  };
}

/** What interpolation needs from Grafana's templateSrv. */
export type Replace = (text: string, format: ReturnType<typeof formatterFor>) => string;

/** Interpolates each code and string segment with the formatter of its context. */
export function interpolateExpr(expr: string, replace: Replace): string {
  return splitStrings(expr)
    .map((s) => {
      const text = replace(s.text, formatterFor(s.quote));
      return s.quote ? s.quote + text + (s.closed ? s.quote : '') : text;
    })
    .join('');
}
