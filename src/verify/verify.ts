/**
 * `verify`: proves before a deploy that the old release's queries survive the pre-deploy
 * migrations and that the new release's queries work once they are applied. In a shadow
 * database brought to the target's schema (never the target), the pending migrations run in the
 * real deploy order (`migrate:latest --pre-deploy`, then `migrate:latest`) through the same
 * migrator and runner, and after each one every query is prepared (never executed) and every
 * INSERT is checked for columns it would leave NULL against a NOT NULL.
 */
import type { Knex } from 'knex';
import { ShadowSession } from '../analysis/shadow/shadow-session.js';
import type { MigrationInput } from '../analysis/analyze-migration.js';
import type { MigrationReport } from '../analysis/migration-types.js';
import { ConfigError } from '../errors.js';
import type { MigrationPlan, StagedMigrator } from '../migrator/staged-migrator.js';
import type { QuerySet } from './query-source.js';
import type { LoadedStatement, QuerySide } from './statements.js';
import { StepChecker, type StepOutcome } from './step-check.js';
import { judgeStatement, type DeployPhase, type QueryVerdict, type VerifyStep } from './verdict.js';

/** What to verify. */
export interface VerifyOptions {
  /** The queries of the release running now: they must survive every pre-deploy migration. */
  readonly old?: QuerySet;
  /** The queries of the release being deployed: they must work from the end of the pre-deploy step on. */
  readonly new?: QuerySet;
  /** The plan of `migrate:latest --pre-deploy`, when the caller already has it (it tells each migration's stage). */
  readonly plan?: MigrationPlan;
}

/** A migration that failed in the shadow database: the statements were not checked after it. */
export interface MigrationFailure {
  readonly migration: string;
  readonly phase: Exclude<DeployPhase, 'current'>;
  readonly message: string;
}

/** What verify found. */
export interface VerifyResult {
  /** False when a query would break, or a migration failed in the shadow database. */
  readonly ok: boolean;
  /** How the shadow database got the target's schema (and why not by `pg_dump`, when it replayed). */
  readonly shadow: { readonly schema: 'pg_dump' | 'replay'; readonly notice: string | null };
  readonly steps: readonly VerifyStep[];
  readonly migrationFailure: MigrationFailure | null;
  readonly queries: readonly QueryVerdict[];
  readonly notes: readonly string[];
  /** How many statements got each verdict. */
  readonly counts: Readonly<Record<QueryVerdict['verdict'], number>>;
}

class StopAfterFailure extends Error {}

/** The version of the server behind `knex` (`server_version_num`). */
async function serverVersion(client: { query(sql: string): Promise<{ rows: Array<Record<string, unknown>> }> }): Promise<number> {
  const { rows } = await client.query("SELECT pg_catalog.current_setting('server_version_num')::int AS v");
  return Number(rows[0]?.v ?? 0);
}

/** The knexfile's `searchPath`, as knex sets it on its connections (`set search_path to "a","b"`), or null. */
function searchPathSql(knex: Knex): string | null {
  const configured = (knex.client.config as Knex.Config).searchPath;
  const path = typeof configured === 'string' ? [configured] : Array.isArray(configured) ? configured : [];
  if (path.length === 0) return null;
  return `set search_path to ${path.map((name) => `"${String(name).replace(/"/g, '""')}"`).join(',')}`;
}

/**
 * Verifies `options.old` and `options.new` against each schema of the pending deploy, in a shadow
 * database. Throws a {@link ConfigError} when no shadow database can be had (verify cannot
 * prepare anything without one); the target is only read.
 */
export async function verifyQueries(knex: Knex, migrator: StagedMigrator, options: VerifyOptions): Promise<VerifyResult> {
  const sides: Array<{ side: QuerySide; statements: readonly LoadedStatement[] }> = [
    { side: 'old', statements: options.old?.statements ?? [] },
    { side: 'new', statements: options.new?.statements ?? [] },
  ];
  const checkable = sides.flatMap(({ statements }) => statements.filter((s) => s.status === 'checkable'));
  const pending = await migrator.pendingInputs();
  // Without a plan, the stages come from the shadow run itself: in file order, which is the
  // deploy order unless a pre-deploy migration follows a post-deploy one; then the plan tells
  // the order and the shadow run starts again.
  let plan = options.plan ?? null;
  let run = await runDeploy(knex, migrator, checkable, plan ? deployOrder(pending, plan) : { fileOrder: pending });
  if (run === 'out-of-order') {
    plan = await migrator.planLatest({ preDeploy: true });
    run = await runDeploy(knex, migrator, checkable, deployOrder(pending, plan));
    if (run === 'out-of-order') throw new Error('verify: the deploy order changed between two reads of the migrations.');
  }
  const { steps, outcomes, migrationFailure, prepared } = run;
  const queries = sides.flatMap(({ side, statements }) =>
    statements.map((statement) => judgeStatement(statement, side, steps, outcomes.get(statement) ?? steps.map(() => null))),
  );
  const counts = { ok: 0, breaks: 0, 'breaks-after-roll-out': 0, 'fails-now': 0, 'syntax-error': 0, 'not-checked': 0 };
  for (const query of queries) counts[query.verdict]++;
  const notes = [...(options.old?.notes ?? []), ...(options.new?.notes ?? [])];
  if (plan && plan.conflicts.length > 0) {
    notes.push(`The pre-deploy migrations are out of order with the post-deploy ones (${plan.conflicts.map((c) => c.migration).join(', ')}): migrate:latest --pre-deploy refuses to run them; verify ran them in the order it would.`);
  }
  return { ok: counts.breaks === 0 && migrationFailure === null, shadow: prepared, steps, migrationFailure, queries, notes, counts };
}

/** The migrations to run: by deploy step, or in file order with each one's stage read from its run. */
type RunOrder = Record<Exclude<DeployPhase, 'current'>, MigrationInput[]> | { readonly fileOrder: readonly MigrationInput[] };

interface DeployRun {
  readonly prepared: { schema: 'pg_dump' | 'replay'; notice: string | null };
  readonly steps: VerifyStep[];
  readonly outcomes: Map<LoadedStatement, Array<StepOutcome | null>>;
  readonly migrationFailure: MigrationFailure | null;
}

class OutOfOrder extends Error {}

/**
 * In a new shadow database: the current schema, then each migration of `order`, the statements
 * checked at each. `'out-of-order'` when, run in file order, a pre-deploy migration follows a
 * post-deploy one (the deploy would run them in another order).
 */
async function runDeploy(knex: Knex, migrator: StagedMigrator, checkable: readonly LoadedStatement[], order: RunOrder): Promise<DeployRun | 'out-of-order'> {
  const session = await ShadowSession.open(knex, migrator.settings, migrator.shadowConfig);
  if (!(session instanceof ShadowSession)) {
    throw new ConfigError(
      `verify needs a shadow database, and there is none: ${session.reason}. It prepares each query against the schema after each migration, ` +
        'which capture mode cannot do. Give the role CREATEDB (knex-zd then creates a temporary database and drops it), or set ' +
        "zeroDowntime.shadow to the URL of an empty scratch database (e.g. shadow: 'postgres://deploy@db/app_shadow'). Nothing was changed.",
    );
  }
  try {
    let prepared: DeployRun['prepared'];
    try {
      prepared = await session.prepare(await migrator.completedNames(), 'target');
    } catch (error) {
      throw new ConfigError(`verify could not bring the shadow database ${session.name} to the target's schema: ${(error as Error).message} Nothing was changed.`, { cause: error });
    }
    const steps: VerifyStep[] = [];
    const outcomes = new Map<LoadedStatement, Array<StepOutcome | null>>(checkable.map((statement) => [statement, []]));
    let migrationFailure: MigrationFailure | null = null;
    const outOfOrder = await session.withConnection(async (client) => {
      // A connection of verify's own, to a database that is dropped (or emptied) after: the
      // search path the application's connections use is set for the session.
      const searchPath = searchPathSql(knex);
      if (searchPath) await client.query(searchPath);
      const checker = new StepChecker(client, await serverVersion(client));
      const checkStep = async (step: VerifyStep) => {
        steps.push(step);
        for (const statement of checkable) outcomes.get(statement)!.push(await checker.check(statement));
        await checker.endStep();
      };
      await checkStep({ after: null, phase: 'current' });
      const runs: Array<{ migrations: readonly MigrationInput[]; phase: Exclude<DeployPhase, 'current'> | null }> =
        'fileOrder' in order
          ? [{ migrations: order.fileOrder, phase: null }]
          : [
              { migrations: order['pre-deploy'], phase: 'pre-deploy' },
              { migrations: order['post-deploy'], phase: 'post-deploy' },
            ];
      let postSeen = false;
      for (const { migrations, phase } of runs) {
        const afterEach = async (report: MigrationReport) => {
          // Ambiguous migrations run with the pre-deploy ones, as migrate:latest --pre-deploy runs them.
          const step = phase ?? (report.stage === 'post-deploy' ? 'post-deploy' : 'pre-deploy');
          if (phase === null && step === 'pre-deploy' && postSeen) throw new OutOfOrder();
          postSeen ||= step === 'post-deploy';
          if (report.error) {
            migrationFailure = { migration: report.name, phase: step, message: report.error.message };
            throw new StopAfterFailure();
          }
          await checkStep({ after: report.name, phase: step });
        };
        try {
          await session.analyse(migrations, 'up', { afterEach });
        } catch (error) {
          if (error instanceof OutOfOrder) return true;
          if (error instanceof StopAfterFailure) break;
          throw error;
        }
      }
      return false;
    });
    if (outOfOrder) return 'out-of-order';
    for (const results of outcomes.values()) while (results.length < steps.length) results.push(null);
    return { prepared, steps, outcomes, migrationFailure };
  } finally {
    await session.close();
  }
}

/** The pending migrations in deploy order: the pre-deploy step's (the plan's), then the rest in file order. */
function deployOrder(pending: readonly MigrationInput[], plan: MigrationPlan): Record<Exclude<DeployPhase, 'current'>, MigrationInput[]> {
  const byName = new Map(pending.map((m) => [m.name, m]));
  const pre = plan.migrations.map((m) => byName.get(m.name)).filter((m): m is MigrationInput => m !== undefined);
  const preNames = new Set(pre.map((m) => m.name));
  return { 'pre-deploy': pre, 'post-deploy': pending.filter((m) => !preNames.has(m.name)) };
}
