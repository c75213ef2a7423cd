import React, { useEffect, useRef } from 'react';
import type { CodeEditor as RealCodeEditor, Monaco, MonacoEditor, monacoTypes } from '@grafana/ui';

type CodeEditorProps = React.ComponentProps<typeof RealCodeEditor>;
type Provider = monacoTypes.languages.CompletionItemProvider;
type KeyListener = (e: {
  keyCode: number;
  shiftKey: boolean;
  preventDefault: () => void;
  stopPropagation: () => void;
}) => void;

export const ENTER = 3;

/** What the fake Monaco saw: completion providers and key listeners, by editor. */
export const fakeMonaco = {
  providers: [] as Provider[],
  models: [] as string[],
  reset() {
    this.providers = [];
    this.models = [];
  },
};

/** A Monaco with only what the plugin touches; the real one cannot run in jsdom. */
export function fakeMonacoInstance(): Monaco {
  const languages = {
    getLanguages: () => [],
    register: jest.fn<void, [{ id: string }]>(),
    setMonarchTokensProvider: jest.fn<void, [string, unknown]>(),
    setLanguageConfiguration: jest.fn<void, [string, unknown]>(),
    registerCompletionItemProvider: (_: string, provider: Provider) => {
      fakeMonaco.providers.push(provider);
      return { dispose: () => (fakeMonaco.providers = fakeMonaco.providers.filter((p) => p !== provider)) };
    },
    CompletionItemKind: { Constructor: 2, Function: 1, Variable: 4, Enum: 15, EnumMember: 16, Unit: 12 },
  };
  return { KeyCode: { Enter: ENTER }, languages } as unknown as Monaco;
}

/**
 * A textarea standing in for @grafana/ui's CodeEditor: it mounts a fake
 * editor (value, model id, key listeners) and reports blur with its text.
 */
export function FakeCodeEditor(props: CodeEditorProps) {
  const ref = useRef<HTMLTextAreaElement>(null);
  const listeners = useRef<KeyListener[]>([]);
  const mounted = useRef(false);
  const { onEditorDidMount } = props;
  useEffect(() => {
    const textarea = ref.current;
    if (!textarea || !onEditorDidMount || mounted.current) {
      return;
    }
    mounted.current = true;
    const model = { id: `model-${fakeMonaco.models.length + 1}` };
    fakeMonaco.models.push(model.id);
    const editor = {
      getValue: () => textarea.value,
      getModel: () => model,
      getContainerDomNode: () => textarea,
      onKeyDown: (l: KeyListener) => {
        listeners.current.push(l);
        return { dispose: () => undefined };
      },
    };
    onEditorDidMount(editor as unknown as MonacoEditor, fakeMonacoInstance());
  }, [onEditorDidMount]);
  return (
    <textarea
      ref={ref}
      data-testid="code-editor"
      defaultValue={props.value}
      onBlur={(e) => props.onBlur?.(e.target.value)}
      onKeyDown={(e) =>
        listeners.current.forEach((l) =>
          l({
            keyCode: e.key === 'Enter' ? ENTER : 0,
            shiftKey: e.shiftKey,
            preventDefault: () => undefined,
            stopPropagation: () => undefined,
          })
        )
      }
    />
  );
}

/** A fake text model for a provider: the editor's model id and its text. */
export function fakeModel(id: string, text: string) {
  return {
    id,
    getValueInRange: () => text,
  } as unknown as monacoTypes.editor.ITextModel;
}

/** Asks the editor's provider for completions with the cursor at the end of `text` (one line). */
export async function complete(text: string, editor = 0) {
  const provider = fakeMonaco.providers[editor];
  const position = { lineNumber: 1, column: text.length + 1 } as monacoTypes.Position;
  const token = { isCancellationRequested: false } as monacoTypes.CancellationToken;
  const context = { triggerKind: 0 } as monacoTypes.languages.CompletionContext;
  const result = await provider.provideCompletionItems(
    fakeModel(fakeMonaco.models[editor], text),
    position,
    context,
    token
  );
  return result?.suggestions ?? [];
}
