import { TimeRange } from '@grafana/data';
import type { Monaco, MonacoEditor, monacoTypes } from '@grafana/ui';

import { completionContext } from './context';
import { aggregations, functions, language, languageConfiguration } from './promql';
import { MetadataSource, Suggestion, SuggestionKind, Vocabulary, fetchSuggestions } from './suggestions';

/** Our own id, so no other plugin's "promql" completion provider answers in our editor. */
export const LANGUAGE_ID = 'meshmetrics-promql';

const registered = new WeakSet<Monaco>();

/** Function, aggregation and keyword names, which completion offers too. */
export const keywords: string[] = [...aggregations, ...functions];

/** Registers PromQL highlighting with this Monaco instance, once. */
export function registerPromQL(monaco: Monaco): void {
  if (registered.has(monaco)) {
    return;
  }
  registered.add(monaco);
  if (!monaco.languages.getLanguages().some((l) => l.id === LANGUAGE_ID)) {
    monaco.languages.register({ id: LANGUAGE_ID, aliases: ['PromQL (Mesh Metrics)'] });
  }
  monaco.languages.setMonarchTokensProvider(LANGUAGE_ID, language);
  monaco.languages.setLanguageConfiguration(LANGUAGE_ID, languageConfiguration);
}

/** What the completion provider reads at the time it is asked (the props of now). */
export interface CompletionDeps {
  source: MetadataSource;
  range: TimeRange;
  vocabulary: Vocabulary;
}

/** Suggestions for the cursor at `textBefore`, and how many characters before it they replace. */
export async function completionsAt(
  textBefore: string,
  deps: CompletionDeps
): Promise<{ suggestions: Suggestion[]; replace: number }> {
  const ctx = completionContext(textBefore);
  const suggestions = await fetchSuggestions(ctx, deps.source, deps.range, deps.vocabulary);
  return { suggestions, replace: 'prefix' in ctx ? ctx.prefix.length : 0 };
}

function kindOf(monaco: Monaco, kind: SuggestionKind): monacoTypes.languages.CompletionItemKind {
  const k = monaco.languages.CompletionItemKind;
  return {
    metric: k.Constructor,
    function: k.Function,
    variable: k.Variable,
    label: k.Enum,
    value: k.EnumMember,
    duration: k.Unit,
  }[kind];
}

/** A completion provider answering only in this editor's model. */
export function registerCompletion(
  monaco: Monaco,
  editor: MonacoEditor,
  deps: () => CompletionDeps
): monacoTypes.IDisposable {
  return monaco.languages.registerCompletionItemProvider(LANGUAGE_ID, {
    triggerCharacters: ['{', ',', '=', '"', "'", '(', '[', '$', '~'],
    provideCompletionItems: async (model, position) => {
      if (model.id !== editor.getModel()?.id) {
        return { suggestions: [] };
      }
      const textBefore = model.getValueInRange({
        startLineNumber: 1,
        startColumn: 1,
        endLineNumber: position.lineNumber,
        endColumn: position.column,
      });
      try {
        const { suggestions, replace } = await completionsAt(textBefore, deps());
        const range = {
          startLineNumber: position.lineNumber,
          endLineNumber: position.lineNumber,
          startColumn: Math.max(1, position.column - replace),
          endColumn: position.column,
        };
        return {
          suggestions: suggestions.map((s, i) => ({
            label: s.label,
            insertText: s.insertText,
            kind: kindOf(monaco, s.kind),
            detail: s.detail,
            documentation: s.documentation,
            // Keep the backend's order: metrics first, then functions.
            sortText: String(i).padStart(6, '0'),
            range,
          })),
        };
      } catch {
        // A metadata call that fails (bad selector mid-typing) offers nothing.
        return { suggestions: [] };
      }
    },
  });
}
