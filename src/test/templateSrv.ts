import { ScopedVars, TypedVariableModel } from '@grafana/data';
import { TemplateSrv } from '@grafana/runtime';

import { FormattedVariable } from '../interpolate';

export interface FakeVariable extends FormattedVariable {
  name: string;
  value: string | string[];
}

type Formatter = (value: string | string[], variable: FormattedVariable) => string;

function isFormatter(format: unknown): format is Formatter {
  return typeof format === 'function';
}

/**
 * A TemplateSrv that replaces $name and ${name} as Grafana's does: each
 * occurrence through the custom formatter, unknown variables left alone.
 */
export class FakeTemplateSrv implements TemplateSrv {
  constructor(private variables: FakeVariable[] = []) {}

  getVariables(): TypedVariableModel[] {
    // Only the names are read by the plugin (completion of $variables).
    return this.variables.map((v) => ({ name: v.name }) as TypedVariableModel);
  }

  replace(target?: string, scopedVars?: ScopedVars, format?: string | Function): string {
    return (target ?? '').replace(/\$(\w+)|\$\{(\w+)\}/g, (whole, a?: string, b?: string) => {
      const name = a ?? b ?? '';
      const scoped = scopedVars?.[name];
      if (scoped) {
        return String(scoped.value);
      }
      const v = this.variables.find((x) => x.name === name);
      if (!v) {
        return whole;
      }
      if (isFormatter(format)) {
        return format(v.value, v);
      }
      return Array.isArray(v.value) ? v.value.join(',') : v.value;
    });
  }

  containsTemplate(target?: string): boolean {
    return /\$\w+|\$\{\w+\}/.test(target ?? '');
  }

  updateTimeRange(): void {}
}
