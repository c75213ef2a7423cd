import React, { useEffect, useRef } from 'react';
import { TimeRange, getDefaultTimeRange } from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import { CodeEditor, Monaco, MonacoEditor, monacoTypes } from '@grafana/ui';

import { keywords, LANGUAGE_ID, registerCompletion, registerPromQL } from '../language/monaco';
import { MetadataSource } from '../language/suggestions';

interface Props {
  value: string;
  source: MetadataSource;
  range?: TimeRange;
  /** Called with the editor's text when it loses focus or on Shift+Enter. */
  onChange: (value: string) => void;
  onRunQuery: () => void;
  height?: number;
  ariaLabel?: string;
}

/** A Monaco editor for PromQL: highlighting, completion from the backend, runs on blur and Shift+Enter. */
export function PromQLField({
  value,
  source,
  range,
  onChange,
  onRunQuery,
  height = 60,
  ariaLabel = 'PromQL expression',
}: Props) {
  // The completion provider and key handler live as long as the editor;
  // they read the props of now through this ref.
  const latest = useRef({ source, range, onChange, onRunQuery });
  useEffect(() => {
    latest.current = { source, range, onChange, onRunQuery };
  });
  const disposables = useRef<monacoTypes.IDisposable[]>([]);

  useEffect(() => () => disposables.current.forEach((d) => d.dispose()), []);

  const onBeforeEditorMount = (monaco: Monaco) => {
    registerPromQL(monaco);
  };

  const onEditorDidMount = (editor: MonacoEditor, monaco: Monaco) => {
    disposables.current.push(
      registerCompletion(monaco, editor, () => ({
        source: latest.current.source,
        range: latest.current.range ?? getDefaultTimeRange(),
        vocabulary: {
          keywords,
          variables: getTemplateSrv()
            .getVariables()
            .map((v) => v.name),
        },
      })),
      editor.onKeyDown((e) => {
        if (e.keyCode === monaco.KeyCode.Enter && e.shiftKey) {
          e.preventDefault();
          e.stopPropagation();
          latest.current.onChange(editor.getValue());
          latest.current.onRunQuery();
        }
      })
    );
    editor.getContainerDomNode().setAttribute('aria-label', ariaLabel);
  };

  return (
    <CodeEditor
      value={value}
      language={LANGUAGE_ID}
      height={height}
      showLineNumbers={false}
      showMiniMap={false}
      monacoOptions={{
        wordWrap: 'on',
        lineNumbers: 'off',
        folding: false,
        scrollBeyondLastLine: false,
        renderLineHighlight: 'none',
        overviewRulerLanes: 0,
        fixedOverflowWidgets: true,
        suggest: { showWords: false },
      }}
      onBeforeEditorMount={onBeforeEditorMount}
      onEditorDidMount={onEditorDidMount}
      onBlur={(text) => {
        latest.current.onChange(text);
        latest.current.onRunQuery();
      }}
    />
  );
}
