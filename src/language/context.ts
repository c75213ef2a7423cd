import { Quote } from '../interpolate';

/** Where the cursor is in a PromQL expression, for completion. */
export type CompletionContext =
  | { kind: 'metric'; prefix: string }
  | { kind: 'labelName'; prefix: string; selector: string }
  | { kind: 'labelValue'; prefix: string; label: string; selector: string; quote?: Quote }
  | { kind: 'duration'; prefix: string }
  | { kind: 'none' };

interface ScanState {
  /** Index of the innermost open `{`, `[` or `(` and which it is. */
  stack: Array<{ open: string; at: number }>;
  /** The open string's quote and start, if the cursor is inside one. */
  quote?: Quote;
  quoteAt: number;
}

function scan(text: string): ScanState {
  const state: ScanState = { stack: [], quoteAt: -1 };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (state.quote) {
      if (c === '\\' && state.quote !== '`') {
        i++;
      } else if (c === state.quote) {
        state.quote = undefined;
      }
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      state.quote = c;
      state.quoteAt = i;
    } else if (c === '{' || c === '[' || c === '(') {
      state.stack.push({ open: c, at: i });
    } else if (c === '}' || c === ']' || c === ')') {
      state.stack.pop();
    } else if (c === '#') {
      // A comment runs to the end of the line.
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
    }
  }
  return state;
}

const matcherRe = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)/g;
const aggregationClauseRe = /\b(by|without|on|ignoring|group_left|group_right)\s*\($/;

/** The series selector the cursor's `{…}` stands for: its metric and the matchers already complete. */
function selectorOf(text: string, braceAt: number, skipLabel?: string): string {
  const metric = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*$/.exec(text.slice(0, braceAt))?.[1] ?? '';
  const matchers: string[] = [];
  for (const m of text.slice(braceAt + 1).matchAll(matcherRe)) {
    if (m[1] !== skipLabel) {
      matchers.push(`${m[1]}${m[2]}${m[3]}`);
    }
  }
  if (!metric && matchers.length === 0) {
    return '';
  }
  return `${metric}{${matchers.join(',')}}`;
}

/** Decides what to complete from the text before the cursor. */
export function completionContext(textBefore: string): CompletionContext {
  const state = scan(textBefore);
  const top = state.stack[state.stack.length - 1];
  if (top?.open === '{') {
    const inside = state.quote ? textBefore.slice(top.at + 1, state.quoteAt) : textBefore.slice(top.at + 1);
    const valueOf = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*$/.exec(inside);
    if (state.quote) {
      if (!valueOf) {
        return { kind: 'none' };
      }
      const prefix = textBefore.slice(state.quoteAt + 1);
      return {
        kind: 'labelValue',
        label: valueOf[1],
        prefix,
        quote: state.quote,
        selector: selectorOf(textBefore, top.at, valueOf[1]),
      };
    }
    if (valueOf) {
      return {
        kind: 'labelValue',
        label: valueOf[1],
        prefix: '',
        selector: selectorOf(textBefore, top.at, valueOf[1]),
      };
    }
    const name = /(?:^|[{,])\s*([a-zA-Z_][a-zA-Z0-9_]*)?$/.exec(inside);
    if (name) {
      return { kind: 'labelName', prefix: name[1] ?? '', selector: selectorOf(textBefore, top.at) };
    }
    return { kind: 'none' };
  }
  if (state.quote) {
    return { kind: 'none' };
  }
  if (top?.open === '[') {
    return { kind: 'duration', prefix: /[$\w]*$/.exec(textBefore)?.[0] ?? '' };
  }
  if (top?.open === '(') {
    const inside = textBefore.slice(0, top.at + 1);
    if (aggregationClauseRe.test(inside)) {
      return { kind: 'labelName', prefix: /[a-zA-Z0-9_]*$/.exec(textBefore)?.[0] ?? '', selector: '' };
    }
  }
  const word = /(^|[^a-zA-Z0-9_:$.])([a-zA-Z_:][a-zA-Z0-9_:]*|\$[a-zA-Z0-9_]*)?$/.exec(textBefore);
  if (!word) {
    return { kind: 'none' };
  }
  return { kind: 'metric', prefix: word[2] ?? '' };
}
