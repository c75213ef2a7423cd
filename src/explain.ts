/**
 * Grafana's interval macros for an expression sent to the explain resource,
 * which (unlike QueryData) does not expand them: the same values the backend
 * computes for a panel (pkg/dialect/macros.go).
 */

/** Parses the config's durations ("15s", "1m30s", "500ms", a bare "30"); undefined when not one. */
export function parseDurationSeconds(raw: string): number | undefined {
  const text = raw.trim();
  if (text === '') {
    return undefined;
  }
  if (/^\d+(\.\d+)?$/.test(text)) {
    const secs = Number(text);
    return secs > 0 ? secs : undefined;
  }
  const units: Record<string, number> = {
    ns: 1e-9,
    us: 1e-6,
    µs: 1e-6,
    ms: 1e-3,
    s: 1,
    m: 60,
    h: 3600,
    d: 86400,
    w: 604800,
    y: 31536000,
  };
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)/y;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    part.lastIndex = at;
    const m = part.exec(text);
    if (!m) {
      return undefined;
    }
    total += Number(m[1]) * units[m[2]];
    at = part.lastIndex;
  }
  return total;
}

/** A PromQL duration for a number of seconds, in whole milliseconds. */
export function promDuration(seconds: number): string {
  const ms = Math.max(1, Math.round(seconds * 1000));
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export function expandMacros(expr: string, stepSeconds: number, rangeSeconds: number, scrapeSeconds: number): string {
  const rate = Math.max(stepSeconds + scrapeSeconds, 4 * scrapeSeconds);
  const macros: Array<[string, string]> = [
    ['__rate_interval_ms', String(Math.round(rate * 1000))],
    ['__rate_interval', promDuration(rate)],
    ['__interval_ms', String(Math.round(stepSeconds * 1000))],
    ['__interval', promDuration(stepSeconds)],
    ['__range_ms', String(Math.round(rangeSeconds * 1000))],
    ['__range_s', String(Math.round(rangeSeconds))],
    ['__range', promDuration(rangeSeconds)],
  ];
  let out = expr;
  for (const [name, value] of macros) {
    out = out
      .split('${' + name + '}')
      .join(value)
      .replace(new RegExp('\\$' + name + '(?![a-zA-Z0-9_])', 'g'), value);
  }
  return out;
}
