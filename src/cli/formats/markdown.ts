/**
 * `migrate:plan --format markdown`: the plan as a pull-request comment. Per migration its stage,
 * each statement's SQL in a fenced block with its lock and the size of the tables it locks (and
 * how long the lock would be held), then the findings with their safe alternatives.
 */
import type { CheckFinding, MigrationReport } from '../../analysis/migration-types.js';
import { versionText } from '../../checks/server-version.js';
import type { MigrationPlan } from '../../migrator/staged-migrator.js';
import { describeLock, exemptLine, statementLocks } from '../format.js';
import { safeFormPlaces, safeFormSummary } from '../../safe-by-default/report.js';

/** A fenced block that no backtick run inside `content` can close. */
function fence(content: string, language: string): string {
  const longest = Math.max(2, ...[...content.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = '`'.repeat(longest + 1);
  return `${ticks}${language}\n${content}\n${ticks}`;
}

/** Inline code that survives backticks inside it. */
function code(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = '`'.repeat(longest + 1);
  return longest > 0 ? `${ticks} ${text} ${ticks}` : `${ticks}${text}${ticks}`;
}

/** Escapes text so that markdown shows it as written (no emphasis, links or HTML). */
function plain(text: string): string {
  return text.replace(/[\\`*_{}[\]<>#|~]/g, (char) => `\\${char}`);
}

const LEVEL: Readonly<Record<string, string>> = { error: '🛑 error', warning: '⚠️ warning', info: 'ℹ️ note' };

function finding(f: CheckFinding): string {
  const lines = [`- **${LEVEL[f.severity] ?? f.severity}** ${code(f.code)}${f.migration ? ` in ${code(f.migration)}` : ''}: ${plain(f.message)}`];
  if (f.allowed) lines.push(`  Allowed by ${code('config.allowUnsafe')}: ${plain(f.allowed.reason)}`);
  else if (f.smallTable) lines.push(`  Small table: ${plain(f.smallTable.note)}`);
  else if (f.safeForm) lines.push(`  ${plain(f.safeForm.note)}`);
  else if (f.hint) lines.push('', `  <details><summary>Safe alternative</summary>`, '', ...fence(f.hint, 'js').split('\n').map((l) => `  ${l}`), '', '  </details>');
  return lines.join('\n');
}

function migration(m: MigrationReport, plan: MigrationPlan): string {
  const stage = m.stage ? `${m.stage} (${m.stageSource ?? '?'})` : '**ambiguous**';
  const lines = [`### ${code(m.name)}`, '', `${stage} · ${m.transaction ? 'in a transaction' : 'outside a transaction'}`];
  if (m.error) lines.push('', `🛑 could not be analysed: ${plain(m.error.message)}`);
  if (m.statements.length === 0 && !m.error) lines.push('', '_no statements_');
  const locks = statementLocks(m, plan.target);
  const safeForms = safeFormPlaces(m);
  const summary = safeFormSummary(m);
  if (summary) lines.push('', plain(summary));
  m.statements.forEach((s, i) => {
    const original = safeForms.starts.get(i);
    if (original) lines.push('', 'Safe form of:', '', ...fence(original.sql, 'sql').split('\n'));
    const lock = s.analysis.lock ? `${s.analysis.lock} on ${code(s.analysis.relation ?? '')}` : 'no table lock';
    const flags = [
      s.analysis.rewrites ? 'rewrites table' : null,
      s.analysis.scans ? 'scans table' : null,
      !s.analysis.transactional || s.stepTransaction === 'none' ? 'outside transaction' : null,
      s.operation ? `via ${code(s.operation.name)}` : null,
    ].filter((x) => x !== null);
    lines.push('', `${i + 1}. **${plain(s.analysis.summary)}** · ${lock}${flags.length ? ` · ${flags.join(' · ')}` : ''}`);
    for (const estimate of locks[i]) lines.push(`   - ${plain(describeLock(estimate))}`);
    lines.push('', ...fence(s.sql, 'sql').split('\n').map((l) => `   ${l}`));
  });
  for (const original of safeForms.done) lines.push('', 'Safe form of (already done: nothing left to run):', '', ...fence(original.sql, 'sql').split('\n'));
  return lines.join('\n');
}

/** The plan as a markdown comment. */
export function planMarkdown(plan: MigrationPlan): string {
  const what = plan.direction === 'up' ? 'apply' : 'revert';
  const scope = plan.stage ? `${plan.stage} ` : '';
  const out: string[] = ['## knex-zd migration plan', ''];
  out.push(
    plan.migrations.length === 0
      ? `Nothing to ${what}${plan.stage ? ` in the ${plan.stage} stage` : ''}.`
      : `**${plan.migrations.length} ${scope}migration${plan.migrations.length === 1 ? '' : 's'} to ${what}.**`,
  );
  if (plan.target.error) out.push('', `_Table sizes unavailable: ${plain(plan.target.error)}_`);
  else if (plan.target.serverVersion && plan.migrations.length > 0) {
    out.push('', `_Sizes from the target database (PostgreSQL ${versionText(plan.target.serverVersion)}); lock times are rough estimates._`);
  }
  for (const m of plan.migrations) out.push('', migration(m, plan));
  if (plan.skipped.length > 0) {
    out.push('', `#### Left for the post-deploy step`, '', ...plan.skipped.map((m) => `- ${code(m.name)} (${m.stage ?? 'ambiguous'})`));
  }
  if (plan.conflicts.length > 0) {
    out.push('', '#### Stage order', '', ...plan.conflicts.map((c) => `- 🛑 ${code(c.migration)} depends on the skipped ${code(c.dependsOn)} (both change ${code(c.object)})`));
  }
  const { errors, warnings } = plan.checks;
  const notes = plan.checks.findings.length - errors - warnings;
  out.push('', `#### Findings: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}, ${notes} note${notes === 1 ? '' : 's'}`);
  if (plan.checks.findings.length > 0) out.push('', ...plan.checks.findings.map(finding));
  if (plan.checks.exempt.length > 0) out.push('', `_${exemptLine(plan.checks.exempt)}_`);
  return out.join('\n');
}
