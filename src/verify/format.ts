/**
 * verify's report, for a terminal (text) and for programs (JSON: every query with its outcome at
 * each step).
 */
import type { QueryVerdict, VerifyStep } from './verdict.js';
import type { VerifyResult } from './verify.js';

/** Colour functions (identity when colours are off). */
export interface Colors {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** The SQL on one line, cut to `max` characters. */
export function oneLine(sql: string, max = 160): string {
  const line = sql.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function stepName(step: Pick<VerifyStep, 'after' | 'phase'>): string {
  return step.after === null ? 'at the current schema' : `after ${step.after} (${step.phase})`;
}

function error(query: QueryVerdict): string {
  const f = query.failure!;
  return `${f.sqlState} ${f.message}${f.detail ? ` (${f.detail})` : ''}`;
}

function entry(query: QueryVerdict, headline: string, c: Colors): string[] {
  return [`  ${query.side} ${query.command} (${query.origin}) ${headline}`, c.dim(`    ${oneLine(query.sql)}`)];
}

/** The report as text lines. */
export function verifyText(result: VerifyResult, c: Colors): string[] {
  const lines: string[] = [];
  const byVerdict = (verdict: QueryVerdict['verdict'], side?: QueryVerdict['side']) => result.queries.filter((q) => q.verdict === verdict && (!side || q.side === side));
  const checked = result.queries.filter((q) => q.verdict === 'ok' || q.verdict === 'breaks' || q.verdict === 'breaks-after-roll-out');
  const oldCount = checked.filter((q) => q.side === 'old').length;
  const newCount = checked.filter((q) => q.side === 'new').length;
  const migrations = result.steps.length - 1;
  lines.push(
    `Checked ${plural(oldCount, 'old query', 'old queries')} and ${plural(newCount, 'new query', 'new queries')} in a shadow database ` +
      `(schema from ${result.shadow.schema === 'pg_dump' ? 'pg_dump' : 'a replay of the completed migrations'}) at the current schema` +
      (migrations > 1 ? ` and after each of ${plural(migrations, 'pending migration')}, in deploy order:` : migrations === 1 ? ' and after the pending migration:' : ' (no pending migrations).'),
  );
  for (const step of result.steps.slice(1)) lines.push(c.dim(`  ${step.phase.padEnd(11)} ${step.after}`));
  if (result.shadow.notice) lines.push(c.dim(`  (the shadow database replays the completed migrations because ${result.shadow.notice}; what no migration created is not in it)`));

  if (result.migrationFailure) {
    const f = result.migrationFailure;
    lines.push('', c.red(c.bold(`The ${f.phase} migration ${f.migration} failed in the shadow database; nothing was checked after it:`)), `  ${f.message}`);
  }

  const breaking = byVerdict('breaks');
  if (breaking.length > 0) {
    lines.push('', c.red(c.bold(`${plural(breaking.length, 'query', 'queries')} would break during the deploy:`)));
    for (const query of breaking) {
      const f = query.failure!;
      const where =
        query.side === 'old'
          ? `fails ${stepName(f)}, while the old code still runs: ${error(query)}`
          : `fails ${f.phase === 'post-deploy' ? stepName(f) : 'after the pre-deploy step'}, when the new code runs: ${error(query)}` +
            (query.needs ? `; it works after ${query.needs}, a post-deploy migration: the new code needs it applied before it runs (make it pre-deploy)` : '');
      lines.push(...entry(query, where, c));
    }
  }

  const expected = byVerdict('breaks-after-roll-out');
  if (expected.length > 0) {
    lines.push('', c.yellow(`${plural(expected.length, 'old query', 'old queries')} stop${expected.length === 1 ? 's' : ''} working after a post-deploy migration (expected: the old code must be gone by then):`));
    for (const query of expected) lines.push(...entry(query, `fails ${stepName(query.failure!)}: ${error(query)}`, c));
    const first = [...new Set(expected.map((q) => q.failure!.after))].join(', ');
    lines.push(c.yellow(`  Finish the roll-out (no old code running) before knex-zd migrate:latest applies ${first}.`));
  }

  const needing = result.queries.filter((q) => q.side === 'new' && q.verdict === 'ok' && q.needs);
  if (needing.length > 0) {
    lines.push('', c.dim(`${plural(needing.length, 'new query', 'new queries')} need the pre-deploy migrations (they fail at the current schema):`));
    for (const query of needing) lines.push(c.dim(`  new ${query.command} (${query.origin}) works after ${query.needs}`));
  }

  const failsNow = byVerdict('fails-now');
  if (failsNow.length > 0) {
    lines.push('', c.dim(`${plural(failsNow.length, 'old query', 'old queries')} already fail${failsNow.length === 1 ? 's' : ''} at the current schema (not counted):`));
    for (const query of failsNow) lines.push(c.dim(`  old ${query.command} (${query.origin}): ${error(query)}`), c.dim(`    ${oneLine(query.sql)}`));
  }
  const syntax = byVerdict('syntax-error');
  if (syntax.length > 0) {
    lines.push('', c.yellow(`${plural(syntax.length, 'query', 'queries')} with a syntax error (not checked against any schema):`));
    for (const query of syntax) lines.push(`  ${query.side} (${query.origin}): ${query.problem ?? query.failure?.message ?? 'syntax error'}`, c.dim(`    ${oneLine(query.sql)}`));
  }
  const notChecked = byVerdict('not-checked');
  if (notChecked.length > 0) {
    const commands = [...new Set(notChecked.map((q) => q.command))].slice(0, 6).join(', ');
    lines.push('', c.dim(`${plural(notChecked.length, 'statement')} not checked: PREPARE takes only SELECT, INSERT, UPDATE, DELETE and MERGE (${commands}).`));
  }
  for (const note of result.notes) lines.push(c.dim(note));

  lines.push('');
  if (result.ok) {
    lines.push(c.green(`OK: the old code survives the pre-deploy migrations${newCount > 0 ? ' and the new code works from the end of the pre-deploy step on' : ''}.`));
  } else {
    const problems = [breaking.length > 0 ? plural(breaking.length, 'query', 'queries') + ' would break' : null, result.migrationFailure ? 'a migration failed' : null].filter(Boolean);
    lines.push(c.red(c.bold(`Not safe to deploy: ${problems.join(', ')}.`)));
  }
  return lines;
}

/** The report as JSON (every query with its result at each step). */
export function verifyJson(result: VerifyResult): unknown {
  return {
    ok: result.ok,
    shadow: result.shadow,
    steps: result.steps,
    migrationFailure: result.migrationFailure,
    counts: result.counts,
    notes: result.notes,
    queries: result.queries.map((q) => ({
      side: q.side,
      origin: q.origin,
      command: q.command,
      sql: q.sql,
      verdict: q.verdict,
      failure: q.failure,
      problem: q.problem,
      needs: q.needs,
      results: q.results.map((outcome, i) => ({ after: result.steps[i]?.after ?? null, phase: result.steps[i]?.phase ?? null, ...(outcome ?? { ok: null }) })),
    })),
  };
}
