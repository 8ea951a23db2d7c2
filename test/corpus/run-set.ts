/**
 * Runs one corpus set three ways on fresh databases: plain knex (the reference schema), and
 * knex-zd in shadow and in capture mode (plan the whole set as pending, then apply it), and
 * measures what the issue asks: analysis errors, planned vs executed SQL, false rewrites,
 * predicted vs traced locks, identical schemas, and what a default configuration refuses.
 */
import knexFactory from 'knex';
import { fingerprintSync, loadModule, parseSync } from 'libpg-query';
import pg from 'pg';
import { checkRules } from '../../src/checks/index.js';
import { createStagedMigrator, type MigrationPlan } from '../../src/migrator/staged-migrator.js';
import { lockDisagreement } from '../../src/analysis/shadow/tracer.js';
import type { MigrationReport } from '../../src/analysis/migration-types.js';
import { createTestDatabase } from '../helpers/db.js';
import { corpusKnex, migrationsOf, type CorpusSet } from './backstage.js';
import { schemaDiff, schemaLines } from './schema.js';

/** What one run of a set measured. */
export interface SetResult {
  readonly set: string;
  readonly mode: 'shadow' | 'capture';
  readonly migrations: number;
  readonly statements: number;
  /** Migrations the analysis could not analyse (an error), with the message. */
  readonly analysisErrors: ReadonlyArray<readonly [string, string]>;
  /** Statements executed for real but not planned, or planned but not executed (fingerprints). */
  readonly divergences: readonly string[];
  /** Statements the final report says rewrite a table while PostgreSQL kept its storage. */
  readonly falseRewrites: number;
  /** Statements whose predicted table locks differ from those PostgreSQL took in the shadow. */
  readonly lockDisagreements: number;
  /** Lines where the schema differs from plain knex's. */
  readonly schemaDiff: readonly string[];
  /** Error-level findings of the default configuration, as `code migration`. */
  readonly refusedByDefault: readonly string[];
  readonly planMs: number;
  readonly applyMs: number;
  /** The plan (for the capture run to be compared with the shadow traces). */
  readonly plan: MigrationPlan;
}

let parserLoaded: Promise<void> | undefined;

function fingerprint(sql: string): string {
  try {
    return fingerprintSync(sql);
  } catch {
    return `unparsed:${sql}`;
  }
}

/** Statements that are not the migrations' own work: knex's bookkeeping, the runner's, reads. */
function isNoise(sql: string): boolean {
  return (
    /knex_migrations|knex_zd_/.test(sql) ||
    /^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|START TRANSACTION|SET |RESET )/i.test(sql) ||
    /set_config\(|pg_backend_pid\(\)|inet_client_port\(\)/.test(sql) ||
    /^\s*(select|with)\b/i.test(sql) && !/\b(update|insert|delete)\b/i.test(sql) ||
    /^\s*show\b/i.test(sql)
  );
}

/** Records the text of every statement sent to the database `name` through node-postgres. */
function recordSent(database: string): { sent: string[]; stop(): void } {
  const sent: string[] = [];
  const prototype = pg.Client.prototype as unknown as { query: (this: unknown, ...args: unknown[]) => unknown };
  const original = prototype.query;
  // A test-only patch of the driver, to see what reaches the server whatever layer sent it.
  prototype.query = function (this: unknown, ...args: unknown[]) {
    const client = this as { connectionParameters?: { database?: string } };
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : first?.text;
    if (client.connectionParameters?.database === database && typeof text === 'string') sent.push(text);
    return original.apply(this, args);
  };
  return { sent, stop: () => void (prototype.query = original) };
}

/** Every check as a warning: the corpus is applied whatever the checks think of its history. */
function lenientChecks(): Record<string, 'warning'> {
  return Object.fromEntries(checkRules().map((rule) => [rule.id, 'warning'] as const));
}

/** The schema plain knex builds from the set. */
export async function referenceSchema(set: CorpusSet): Promise<string[]> {
  const directory = await migrationsOf(set);
  const db = await createTestDatabase('zd_corpus_ref');
  const knex = knexFactory({ client: 'pg', connection: db.url, migrations: { directory, loadExtensions: ['.js'] } });
  try {
    await knex.migrate.latest();
    return await schemaLines(db.url);
  } finally {
    await knex.destroy();
    await db.drop();
  }
}

/** Runs the set in one mode; `reference` is plain knex's schema. */
export async function runSet(set: CorpusSet, mode: 'shadow' | 'capture', reference: readonly string[]): Promise<SetResult> {
  parserLoaded ??= loadModule();
  await parserLoaded;
  const directory = await migrationsOf(set);
  const shadow = mode === 'shadow' ? 'auto' : false;
  const db = await createTestDatabase(`zd_corpus_${mode}`);
  const strict = corpusKnex(db.url, directory, { shadow });
  const lenient = corpusKnex(db.url, directory, { shadow, checks: lenientChecks() });
  try {
    const started = performance.now();
    const plan = await createStagedMigrator(strict).planLatest();
    const planMs = performance.now() - started;
    const refusedByDefault = plan.checks.findings.filter((f) => f.severity === 'error').map((f) => `${f.code} ${f.migration ?? ''}`);

    const recording = recordSent(db.name);
    const applyStarted = performance.now();
    try {
      await createStagedMigrator(lenient).latest();
    } finally {
      recording.stop();
    }
    const applyMs = performance.now() - applyStarted;

    const planned = plan.migrations.flatMap((m) => m.statements.filter((s) => !s.trace?.notReached).map((s) => fingerprint(s.sql)));
    // A string of several statements is planned statement by statement.
    const executed = recording.sent.filter((sql) => !isNoise(sql)).flatMap(splitFingerprints);
    const divergences = multisetDifference(planned.filter((f) => !isNoiseFingerprint(f, plan)), executed);
    return {
      set: set.name,
      mode,
      migrations: plan.migrations.length,
      statements: planned.length,
      analysisErrors: plan.migrations.filter((m) => m.error).map((m) => [m.name, m.error!.message] as const),
      divergences,
      falseRewrites: countFalseRewrites(plan.migrations),
      lockDisagreements: plan.migrations.flatMap((m) => m.statements).filter((s) => s.analysis.findings.some((f) => f.code === 'analysis-divergence' && /\btook\b|did not take/.test(f.message))).length,
      schemaDiff: schemaDiff(reference, await schemaLines(db.url)),
      refusedByDefault,
      planMs,
      applyMs,
      plan,
    };
  } finally {
    await strict.destroy();
    await lenient.destroy();
    await db.drop();
  }
}

/** The fingerprints of each statement of a string (parsed by libpg-query). */
function splitFingerprints(sql: string): string[] {
  let parsed: { stmts?: Array<{ stmt_location?: number; stmt_len?: number }> };
  try {
    parsed = parseSync(sql);
  } catch {
    return [fingerprint(sql)];
  }
  const stmts = parsed.stmts ?? [];
  if (stmts.length <= 1) return [fingerprint(sql)];
  const bytes = Buffer.from(sql, 'utf8');
  return stmts.map((s) => {
    const start = s.stmt_location ?? 0;
    const end = s.stmt_len ? start + s.stmt_len : bytes.length;
    return fingerprint(bytes.subarray(start, end).toString('utf8'));
  });
}

/** Planned statements that are reads or bookkeeping (never in the executed list). */
function isNoiseFingerprint(print: string, plan: MigrationPlan): boolean {
  const statement = plan.migrations.flatMap((m) => m.statements).find((s) => fingerprint(s.sql) === print);
  return statement ? isNoise(statement.sql) : false;
}

function multisetDifference(planned: readonly string[], executed: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const p of planned) counts.set(p, (counts.get(p) ?? 0) + 1);
  for (const e of executed) counts.set(e, (counts.get(e) ?? 0) - 1);
  return [...counts].filter(([, n]) => n !== 0).map(([print, n]) => `${print} ${n > 0 ? 'planned, not executed' : 'executed, not planned'} ×${Math.abs(n)}`);
}

/** In shadow mode the trace says what PostgreSQL did; a reported rewrite without new storage is false. */
function countFalseRewrites(migrations: readonly MigrationReport[]): number {
  return migrations.flatMap((m) => m.statements).filter((s) => s.analysis.rewrites && s.trace?.ran && s.trace.newStorage !== null && s.trace.newStorage.length === 0).length;
}

/**
 * Capture's predictions against the shadow's traces of the same statements (matched by
 * migration and fingerprint, in order): rewrites predicted that did not happen, and table locks
 * predicted differently from those taken.
 */
export function compareWithShadow(capture: MigrationPlan, shadow: MigrationPlan): { falseRewrites: number; lockDisagreements: number; compared: number } {
  let falseRewrites = 0;
  let lockDisagreements = 0;
  let compared = 0;
  for (const m of capture.migrations) {
    const traced = shadow.migrations.find((s) => s.name === m.name)?.statements.filter((s) => s.trace?.ran && !s.trace.error && s.trace.together === 1) ?? [];
    const used = new Set<number>();
    for (const statement of m.statements) {
      const print = fingerprint(statement.sql);
      const index = traced.findIndex((t, i) => !used.has(i) && fingerprint(t.sql) === print);
      if (index < 0) continue;
      used.add(index);
      compared++;
      const trace = traced[index].trace!;
      if (statement.analysis.rewrites && trace.newStorage !== null && trace.newStorage.length === 0) falseRewrites++;
      if (trace.locks !== null) {
        const { missed, phantom } = lockDisagreement(statement.analysis, trace, bare);
        if (missed.length > 0 || phantom.length > 0) {
          lockDisagreements++;
          if (process.env.CORPUS_DEBUG) console.error(`locks ${m.name}: ${statement.sql.slice(0, 100)}\n  missed ${missed.join(', ')}\n  phantom ${phantom.join(', ')}`);
        }
      }
    }
  }
  return { falseRewrites, lockDisagreements, compared };
}

function bare(relation: string): string {
  return relation.replace(/^public\./, '').replace(/"/g, '');
}
