/**
 * `check --format github`: one GitHub Actions workflow command per finding
 * (`::error file=…,line=…,title=…::message`), which GitHub shows as an annotation on the
 * migration's line in the pull request, then a summary line.
 */
import type { CheckFinding, MigrationReport } from '../../analysis/migration-types.js';
import type { CheckResult } from '../../checks/index.js';
import { findingsSummary } from '../format.js';
import { palette } from '../output.js';
import { Locator } from './locate.js';
import { findingText } from './finding-text.js';

/** Escapes a workflow command's message: `%`, CR and LF, as GitHub's toolkit does. */
export function escapeData(value: string): string {
  return value.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escapes a workflow command's property value: the message escapes, plus `:` and `,`. */
export function escapeProperty(value: string): string {
  return escapeData(value).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function command(finding: CheckFinding): 'error' | 'warning' | 'notice' {
  return finding.severity === 'info' ? 'notice' : finding.severity;
}

/** The annotations of a `check` run, one line each, and a plain summary line. */
export function checkGithub(input: { migrations: readonly MigrationReport[]; result: CheckResult; root: string }): string {
  const locator = new Locator(input.migrations, input.root);
  const lines = input.result.findings.map((finding) => {
    const location = locator.locate(finding);
    const properties = [
      ...(location.file === null ? [] : [`file=${escapeProperty(location.file)}`, `line=${location.line}`]),
      `title=${escapeProperty(`knex-zd ${finding.code}${finding.migration ? ` in ${finding.migration}` : ''}`)}`,
    ];
    return `::${command(finding)} ${properties.join(',')}::${escapeData(findingText(finding))}`;
  });
  const count = input.migrations.length;
  lines.push(`knex-zd check: ${count} migration${count === 1 ? '' : 's'}, ${findingsSummary(input.result.findings, palette(false))}`);
  return lines.join('\n');
}
