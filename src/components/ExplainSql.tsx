import React, { useEffect, useRef, useState } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2, TimeRange, getDefaultTimeRange } from '@grafana/data';
import { Alert, InlineField, InlineSwitch, useStyles2 } from '@grafana/ui';

import { DataSource } from '../datasource';

interface Props {
  datasource: DataSource;
  expr: string;
  range?: TimeRange;
  /** The panel's interval in ms, when a query has run. */
  intervalMs?: number;
}

/** The answer for one request, keyed by what was asked. */
type Answer = { key: string; sql: string } | { key: string; error: string };

const getStyles = (theme: GrafanaTheme2) => ({
  sql: css({
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
    whiteSpace: 'pre-wrap',
    maxHeight: 400,
    overflow: 'auto',
  }),
});

/** The "Explain SQL" toggle: the ClickHouse statement the backend would run for the expression. */
export function ExplainSql({ datasource, expr, range, intervalMs }: Props) {
  const [open, setOpen] = useState(false);
  const [answer, setAnswer] = useState<Answer>();
  const styles = useStyles2(getStyles);
  // The request follows the range's bounds, not its identity (a new object each render).
  const rangeRef = useRef(range);
  useEffect(() => {
    rangeRef.current = range;
  });
  const from = range?.from.valueOf();
  const to = range?.to.valueOf();
  const empty = expr.trim() === '';
  const key = JSON.stringify([expr, from, to, intervalMs]);

  useEffect(() => {
    if (!open || empty) {
      return;
    }
    let current = true;
    datasource.explain(expr, rangeRef.current ?? getDefaultTimeRange(), intervalMs).then(
      (sql) => current && setAnswer({ key, sql }),
      (err: Error) => current && setAnswer({ key, error: err.message })
    );
    return () => {
      current = false;
    };
  }, [open, empty, expr, key, intervalMs, datasource]);

  const shown = answer?.key === key ? answer : undefined;
  return (
    <div>
      <InlineField
        label="Explain SQL"
        tooltip="Show the ClickHouse SQL this expression runs as a range query over the dashboard's time range"
      >
        <InlineSwitch id="explain-sql" value={open} onChange={(e) => setOpen(e.currentTarget.checked)} />
      </InlineField>
      {open && empty && <p>Write an expression to see its SQL.</p>}
      {open && !empty && !shown && <p>Generating SQL…</p>}
      {open && !empty && shown && 'error' in shown && (
        <Alert severity="error" title="Cannot explain this expression">
          {shown.error}
        </Alert>
      )}
      {open && !empty && shown && 'sql' in shown && (
        <pre className={styles.sql} data-testid="explain-sql">
          {shown.sql}
        </pre>
      )}
    </div>
  );
}
