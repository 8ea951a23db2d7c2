import { estimateLocks, formatSeconds, formatTableSize, type LockEstimate } from '../analysis/lock-estimate.js';
import type { CheckFinding, MigrationReport } from '../analysis/migration-types.js';
import { NO_TARGET_FACTS, type TargetFacts } from '../analysis/table-stats.js';
import { versionText } from '../checks/server-version.js';
import { tablesCreatedBefore } from '../checks/unsafe/statements.js';
import type { MigrationPlan, MigrationStatus } from '../migrator/staged-migrator.js';
import { safeFormPlaces, safeFormSummary } from '../safe-by-default/report.js';
import type { palette} from './output.js';
import { table } from './output.js';

type Palette = ReturnType<typeof palette>;

function stageLabel(m: { stage: string | null; stageSource: string | null }, c: Palette): string {
  if (!m.stage) return c.red('ambiguous');
  const stage = m.stage === 'pre-deploy' ? c.cyan(m.stage) : c.magenta(m.stage);
  return `${stage} ${c.dim(`(${m.stageSource ?? '?'})`)}`;
}

function flags(s: MigrationReport['statements'][number]): string {
  const parts: string[] = [];
  if (s.analysis.rewrites) parts.push('rewrites table');
  if (s.analysis.scans) parts.push('scans table');
  if (!s.analysis.transactional || s.stepTransaction === 'none') parts.push('outside transaction');
  if (s.stepTransaction === 'own') parts.push('own transaction');
  if (!s.analysis.classified) parts.push('UNCLASSIFIED');
  return parts.join(', ');
}

/** The existing tables each statement of `m` locks, with their size and how long the lock is held. */
export function statementLocks(m: MigrationReport, target: TargetFacts): LockEstimate[][] {
  return m.statements.map((s, i) => estimateLocks(s, target, tablesCreatedBefore(m, i)));
}

/** `orders: ~40 rows, 48 kB; blocks writes for ~2 ms (index build)`, or `orders: not in the target database yet`. */
export function describeLock(estimate: LockEstimate): string {
  if (!estimate.stats) return `${estimate.relation}: not in the target database yet`;
  const name = estimate.stats.throughIndex ? `${estimate.relation} (an index of ${estimate.stats.table})` : estimate.relation;
  const parts = [`${name}: ${formatTableSize(estimate.stats)}`];
  const work = estimate.work ? ` (${estimate.work})` : '';
  if (estimate.blocks && estimate.seconds !== null) parts.push(`blocks ${estimate.blocks} for ${formatSeconds(estimate.seconds)}${work}`);
  else if (estimate.blocks && estimate.work) parts.push(`blocks ${estimate.blocks} for the whole ${estimate.work}`);
  else if (estimate.seconds !== null) parts.push(`${formatSeconds(estimate.seconds)}${work}, blocking neither reads nor writes`);
  return parts.join('; ');
}

/** The human form of one analysed migration: its stage, then each statement with its lock. */
export function formatMigration(m: MigrationReport, c: Palette, target: TargetFacts = NO_TARGET_FACTS): string {
  const locks = target.tables.size > 0 ? statementLocks(m, target) : [];
  const mode = m.transaction ? 'in a transaction' : 'outside a transaction';
  const lines = [`${c.bold(m.name)}  ${stageLabel(m, c)}  ${c.dim(mode)}`];
  if (m.error) lines.push(`  ${c.red(`could not be analysed: ${m.error.message}`)}`);
  if (m.statements.length === 0 && !m.error) lines.push(c.dim('  (no statements)'));
  const safeForms = safeFormPlaces(m);
  const summary = safeFormSummary(m);
  if (summary) lines.push(`  ${c.cyan(summary)}`);
  m.statements.forEach((s, i) => {
    const original = safeForms.starts.get(i);
    if (original) lines.push(`  ${c.cyan('safe form of:')} ${original.sql.replace(/\s*\n\s*/g, ' ')}`);
    const lock = s.analysis.lock ? `${s.analysis.lock} on ${s.analysis.relation}` : 'no table lock';
    const lockColored = s.analysis.lock === 'ACCESS EXCLUSIVE' ? c.yellow(lock) : lock;
    const via = s.operation ? c.dim(` via ${s.operation.name}`) : '';
    const extra = flags(s);
    lines.push(`  ${i + 1}. ${s.analysis.summary}  ${lockColored}${extra ? `  ${c.yellow(extra)}` : ''}${via}`);
    lines.push(`     ${c.dim(s.sql.replace(/\s*\n\s*/g, ' '))}`);
    for (const estimate of locks[i] ?? []) {
      const text = `     ${describeLock(estimate)}`;
      lines.push(estimate.blocks && estimate.seconds !== null && estimate.seconds >= 1 ? c.yellow(text) : c.dim(text));
    }
  });
  for (const original of safeForms.done) lines.push(`  ${c.cyan('safe form of:')} ${original.sql.replace(/\s*\n\s*/g, ' ')}  ${c.dim('(already done: nothing left to run)')}`);
  return lines.join('\n');
}

/** One finding, strong_migrations style: what, why, then the safe way to paste. A note says why it is one. */
export function formatFinding(f: CheckFinding, c: Palette): string {
  const level = f.severity === 'error' ? c.red('error') : f.severity === 'warning' ? c.yellow('warning') : c.cyan(f.allowed ? 'allowed' : 'note');
  const lines = [`${level} ${c.bold(`[${f.code}]`)} ${f.migration ?? ''}`, `  ${f.message}`];
  if (f.statement) lines.push(c.dim(`  statement: ${f.statement.replace(/\s*\n\s*/g, ' ')}`));
  if (f.allowed) lines.push(`  ${c.cyan('allowed by config.allowUnsafe:')} ${f.allowed.reason}`);
  else if (f.smallTable) lines.push(`  ${c.cyan('small table:')} ${f.smallTable.note}`);
  else if (f.safeForm) lines.push(`  ${c.cyan(f.safeForm.note)}`);
  else if (f.hint) lines.push(`  ${c.green('safe alternative:')}`, ...f.hint.split('\n').map((l) => `    ${l}`));
  return lines.join('\n');
}

/** A summary line of findings, e.g. `2 errors, 1 warning`. */
export function findingsSummary(findings: readonly CheckFinding[], c: Palette): string {
  const errors = findings.filter((f) => f.severity === 'error').length;
  const warnings = findings.filter((f) => f.severity === 'warning').length;
  const notes = findings.filter((f) => f.severity === 'info').length;
  const noted = notes ? ` (${notes} note${notes === 1 ? '' : 's'})` : '';
  if (errors + warnings === 0) return `${c.green('No problems found.')}${noted}`;
  const parts = [];
  if (errors) parts.push(c.red(`${errors} error${errors === 1 ? '' : 's'}`));
  if (warnings) parts.push(c.yellow(`${warnings} warning${warnings === 1 ? '' : 's'}`));
  if (notes) parts.push(`${notes} note${notes === 1 ? '' : 's'}`);
  return parts.join(', ');
}

/** The human form of a plan. */
export function formatPlan(plan: MigrationPlan, c: Palette): string {
  const what = plan.direction === 'up' ? 'apply' : 'revert';
  const scope = plan.stage ? `${plan.stage} ` : '';
  const out: string[] = [];
  out.push(
    c.bold(
      plan.migrations.length === 0
        ? `Nothing to ${what}${plan.stage ? ` in the ${plan.stage} stage` : ''}.`
        : `${plan.migrations.length} ${scope}migration${plan.migrations.length === 1 ? '' : 's'} to ${what}:`,
    ),
  );
  if (plan.target.error) out.push(c.dim(`(table sizes unavailable: ${plan.target.error})`));
  else if (plan.target.serverVersion && plan.migrations.length > 0) {
    out.push(c.dim(`Sizes from the target database (PostgreSQL ${versionText(plan.target.serverVersion)}); lock times are rough estimates.`));
  }
  if (plan.missing.length > 0) {
    out.push(c.yellow(`${plan.missing.length} completed migration${plan.missing.length === 1 ? ' has' : 's have'} no file (migrations.disableMigrationsListValidation is set): ${plan.missing.join(', ')}`));
  }
  for (const m of plan.migrations) out.push('', formatMigration(m, c, plan.target));
  if (plan.skipped.length > 0) {
    out.push('', c.dim(`Left for the post-deploy step (knex-zd migrate:${plan.direction === 'up' ? 'latest' : 'rollback'}):`));
    for (const m of plan.skipped) {
      const waiting = plan.waiting.find((w) => w.migration === m.name);
      out.push(c.dim(`  ${m.name}  ${m.stage}${waiting ? `  waits for ${waiting.waitsFor}: ${waiting.reason}` : ''}`));
    }
  }
  for (const conflict of plan.conflicts) {
    out.push('', c.red(`stage order: ${conflict.migration} depends on the skipped ${conflict.dependsOn} (both change ${conflict.object})`));
  }
  if (plan.checks.findings.length > 0) {
    out.push('');
    for (const f of plan.checks.findings) out.push(formatFinding(f, c), '');
    out.push(findingsSummary(plan.checks.findings, c));
  }
  if (plan.checks.exempt.length > 0) out.push('', c.dim(exemptLine(plan.checks.exempt)));
  return out.join('\n');
}

/** The JSON form of a statement's lock estimates. */
function locksJson(estimates: readonly LockEstimate[]) {
  return estimates.map((e) => ({
    relation: e.relation,
    mode: e.mode,
    blocks: e.blocks,
    table: e.stats?.table ?? null,
    rows: e.stats?.rows ?? null,
    rowsSource: e.stats?.rowsSource ?? null,
    heapBytes: e.stats?.heapBytes ?? null,
    totalBytes: e.stats?.totalBytes ?? null,
    work: e.work,
    estimatedSeconds: e.seconds,
  }));
}

/** The JSON form of an analysed migration (with the sizes of the tables it locks, when `target` has them). */
export function migrationJson(m: MigrationReport, target: TargetFacts = NO_TARGET_FACTS) {
  const locks = statementLocks(m, target);
  return {
    name: m.name,
    file: m.file,
    direction: m.direction,
    stage: m.stage,
    stageSource: m.stageSource,
    transaction: m.transaction,
    analysedBy: m.analysedBy ?? 'capture',
    error: m.error ? m.error.message : null,
    ...(m.safeForms ? { safeForms: m.safeForms.map((d) => ({ ordinal: d.ordinal, statement: d.sql, kind: d.kind })) } : {}),
    statements: m.statements.map((s, i) => ({
      sql: s.sql,
      summary: s.analysis.summary,
      kind: s.analysis.kind,
      stage: s.analysis.stage,
      operation: s.operation ?? null,
      transaction: s.stepTransaction,
      lock: s.analysis.lock,
      relation: s.analysis.relation,
      locks: s.analysis.locks,
      rewrites: s.analysis.rewrites,
      scans: s.analysis.scans,
      transactional: s.analysis.transactional,
      classified: s.analysis.classified,
      findings: s.analysis.findings,
      trace: s.trace ?? null,
      tables: locksJson(locks[i]),
      ...(s.safeForm ? { safeFormOf: { ordinal: s.safeForm.ordinal, statement: s.safeForm.sql } } : {}),
    })),
  };
}

/** The JSON form of a plan. */
export function planJson(plan: MigrationPlan) {
  return {
    direction: plan.direction,
    stage: plan.stage,
    analysis: plan.analysis,
    target: { serverVersion: plan.target.serverVersion, error: plan.target.error },
    migrations: plan.migrations.map((m) => migrationJson(m, plan.target)),
    skipped: plan.skipped.map((m) => ({ name: m.name, stage: m.stage, stageSource: m.stageSource })),
    conflicts: plan.conflicts,
    waiting: plan.waiting,
    missing: plan.missing,
    findings: plan.checks.findings,
    errors: plan.checks.errors,
    warnings: plan.checks.warnings,
    exempt: plan.checks.exempt,
  };
}

/** Says which migrations the checks skipped as the baseline (`zeroDowntime.startAfter`). */
export function exemptLine(exempt: readonly string[]): string {
  const n = exempt.length;
  return `${n} migration${n === 1 ? '' : 's'} up to ${exempt.at(-1)} ${n === 1 ? 'is' : 'are'} the baseline (zeroDowntime.startAfter): not checked.`;
}

/** The status table: each migration with its state, batch and stage. */
export function formatStatus(rows: readonly MigrationStatus[], c: Palette): string {
  if (rows.length === 0) return 'No migrations.';
  const body = rows.map((r) => [
    r.name,
    (r.state === 'completed' ? c.green('completed') : r.state === 'missing' ? c.red('missing') : c.yellow('pending')) + (r.baseline ? c.dim(' (baseline)') : ''),
    r.batch === null ? '' : String(r.batch),
    r.state === 'missing' ? c.red('(no file)') : stageLabel(r, c),
  ]);
  const pending = rows.filter((r) => r.state === 'pending').length;
  const missing = rows.filter((r) => r.state === 'missing').length;
  const gone = missing > 0 ? `, ${missing} missing (completed, but the file is gone)` : '';
  const baseline = rows.filter((r) => r.baseline).length;
  const exempt = baseline > 0 ? ` ${baseline} in the baseline (zeroDowntime.startAfter), not checked.` : '';
  return `${table(['Migration', 'State', 'Batch', 'Stage'], body)}\n\n${rows.length - pending - missing} completed, ${pending} pending${gone}.${exempt}`;
}
