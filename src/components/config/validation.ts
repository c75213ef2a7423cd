import { parseDurationSeconds } from '../../explain';

/** Inline checks of the config editor; the backend checks again and names the field. */

export function hostProblem(host?: string): string | undefined {
  const h = (host ?? '').trim();
  if (h === '') {
    return 'Host is required';
  }
  if (/[\/\s]/.test(h)) {
    return 'Host is a name or IP address, without scheme, path or spaces';
  }
  return undefined;
}

function wholeNumber(raw: number | string | undefined): number | undefined | null {
  if (raw === undefined || raw === '') {
    return undefined;
  }
  const n = typeof raw === 'number' ? raw : Number(raw.trim());
  return Number.isInteger(n) ? n : null;
}

export function portProblem(raw?: number | string): string | undefined {
  const n = wholeNumber(raw);
  return n === null || (n !== undefined && (n < 1 || n > 65535))
    ? 'Port must be a whole number from 1 to 65535'
    : undefined;
}

export function limitProblem(raw: number | string | undefined, max: number): string | undefined {
  const n = wholeNumber(raw);
  return n === null || (n !== undefined && (n < 1 || n > max)) ? `Must be a whole number from 1 to ${max}` : undefined;
}

export function durationProblem(raw: string | undefined, minSeconds: number): string | undefined {
  if ((raw ?? '').trim() === '') {
    return undefined;
  }
  const secs = parseDurationSeconds(raw ?? '');
  if (secs === undefined) {
    return 'Must be a duration such as 15s, 1m or 1m30s';
  }
  return secs < minSeconds
    ? `Must be at least ${minSeconds < 1 ? `${minSeconds * 1000}ms` : `${minSeconds}s`}`
    : undefined;
}

export function identifierProblem(raw?: string): string | undefined {
  const name = (raw ?? '').trim();
  return name === '' || /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
    ? undefined
    : 'Letters, digits and underscores, not starting with a digit';
}

/** A typed whole number is stored as a number; anything else as typed, for the message. */
export function numberOrText(raw: string): number | string | undefined {
  const t = raw.trim();
  if (t === '') {
    return undefined;
  }
  return /^-?\d+$/.test(t) ? Number(t) : t;
}
