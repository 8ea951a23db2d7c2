import type { Knex } from 'knex';
import { analyzeMigration, type MigrationModule } from '../analysis/analyze-migration.js';
import type { CheckFinding, Direction, MigrationReport } from '../analysis/migration-types.js';
import { runChecks, type CheckResult } from '../checks/index.js';
import { parseSettings, type Settings } from '../config.js';
import { CheckFailedError, StageError } from '../errors.js';
import { wrapMigration } from '../runner/wrap-migration.js';
import type { Stage, StageSource } from '../stages.js';
import { formatMigrationLockEvent } from './lock-events.js';
import { withMigrationLock, type MigrationLockOptions } from './migration-lock.js';
import { findStageOrderConflicts, type StageOrderConflict } from './stage-order.js';
import { StagedMigrationSource, type PreparedMigration } from './staged-migration-source.js';

/** The options the staged commands add to knex's migrator config. */
export interface StagedOptions {
  /** Apply (or revert) only the migrations of the pre-deploy stage. @default false */
  readonly preDeploy?: boolean;
  /** The migration lock of this command (wait or not, how long, progress); merged over the migrator's. */
  readonly lock?: MigrationLockRunOptions;
}

/** What a command may choose about knex-zd's migration lock (the table and row follow the migrator's config). */
export type MigrationLockRunOptions = Pick<MigrationLockOptions, 'wait' | 'waitTimeoutMs' | 'leaseMs' | 'pollMs' | 'command' | 'onEvent' | 'tableName'>;

/** Options of `up`/`down`: knex's, a migration name, and the lock. */
export type StepConfig = Knex.MigratorConfig & { readonly name?: string; readonly lock?: MigrationLockRunOptions };

/** What a migrate command would do, as data: printed by `migrate:plan`, then executed. */
export interface MigrationPlan {
  readonly direction: Direction;
  /** `'pre-deploy'` for a `--pre-deploy` run, `null` when every stage runs. */
  readonly stage: Stage | null;
  /** The migrations that will run, in order. */
  readonly migrations: readonly MigrationReport[];
  /** Pending migrations of the other stage, left for the next step. */
  readonly skipped: readonly MigrationReport[];
  readonly conflicts: readonly StageOrderConflict[];
  readonly checks: CheckResult;
}

/** A migration with its state and stage, for `migrate:status`/`migrate:list`. */
export interface MigrationStatus {
  readonly name: string;
  readonly state: 'completed' | 'pending';
  readonly batch: number | null;
  readonly stage: Stage | null;
  readonly stageSource: StageSource | null;
}

/** The result of knex's `latest`/`rollback`: the batch number and the migrations run. */
export type MigrateResult = [number, string[]];

/** knex's Migrator, as far as the staged migrator uses it (public methods only). */
interface KnexMigrator {
  knex: Knex;
  config: Knex.MigratorConfig & { migrationSource: Knex.MigrationSource<unknown>; tableName: string; schemaName?: string };
  latest(config?: Knex.MigratorConfig): Promise<MigrateResult>;
  rollback(config?: Knex.MigratorConfig, all?: boolean): Promise<MigrateResult>;
  up(config?: Knex.MigratorConfig): Promise<MigrateResult>;
  down(config?: Knex.MigratorConfig): Promise<MigrateResult>;
  list(config?: Knex.MigratorConfig): Promise<[Array<{ name: string }>, unknown[]]>;
}

/** knex's Migrator extended with stages, analysis and checks. */
export interface StagedMigrator extends KnexMigrator {
  readonly settings: Settings;
  latest(config?: Knex.MigratorConfig & StagedOptions): Promise<MigrateResult>;
  rollback(config?: Knex.MigratorConfig & StagedOptions, all?: boolean): Promise<MigrateResult>;
  up(config?: StepConfig): Promise<MigrateResult>;
  down(config?: StepConfig): Promise<MigrateResult>;
  /** What `latest` would apply, analysed and checked; touches nothing. */
  planLatest(options?: StagedOptions): Promise<MigrationPlan>;
  /** What `rollback` would revert, analysed and checked; touches nothing. */
  planRollback(options?: StagedOptions & { all?: boolean }): Promise<MigrationPlan>;
  /** Analyses every migration (completed or not) and runs the checks. */
  check(): Promise<{ migrations: readonly MigrationReport[]; result: CheckResult }>;
  /** Every migration with its state and stage. */
  status(): Promise<MigrationStatus[]>;
}

/** Options of {@link createStagedMigrator}. */
export interface StagedMigratorOptions {
  /** Settings to use instead of parsing the knexfile's `zeroDowntime` option (the CLI merges its flags in). */
  readonly settings?: Settings;
  /**
   * knex-zd's migration lock, held around everything that applies or reverts (planning included).
   * @default wait up to 30 minutes for another run, lease 30 s; progress through knex's logger
   */
  readonly lock?: MigrationLockRunOptions;
}

interface Loaded {
  readonly name: string;
  readonly info: unknown;
  readonly module: MigrationModule | null;
  readonly error: Error | null;
}

/**
 * Creates knex's own Migrator, subclassed: `latest({ preDeploy: true })` applies only pending
 * pre-deploy migrations; every command analyses and checks the migrations it would run first
 * and refuses to start on an error-level finding, before touching the database.
 *
 * @example
 * const migrator = createStagedMigrator(knex);
 * await migrator.latest({ preDeploy: true }); // before the roll-out
 * await migrator.latest();                   // after it
 */
export function createStagedMigrator(knex: Knex, options: StagedMigratorOptions = {}): StagedMigrator {
  const settings = options.settings ?? parseSettings((knex.client.config as Knex.Config).zeroDowntime);
  // knex.migrate returns a new Migrator each time; its class is the one to extend.
  const Base = knex.migrate.constructor as new (knex: Knex) => KnexMigrator;

  class Staged extends Base implements StagedMigrator {
    readonly settings = settings;

    override async latest(config: Knex.MigratorConfig & StagedOptions = {}): Promise<MigrateResult> {
      const { preDeploy, lock, ...knexConfig } = config;
      const options = { preDeploy: preDeploy === true };
      // Checked before the lock too, so that a plan that cannot run leaves the database untouched.
      assertRunnable(await this.planLatest(options));
      return this.locked(knexConfig, lock, async () => {
        // Planned again under the lock: a run that waited for another sees what that one applied.
        const plan = await this.planLatest(options);
        assertRunnable(plan);
        const source = await this.sourceFor(plan, new Set(plan.skipped.map((m) => m.name)));
        return super.latest({ ...knexConfig, migrationSource: source });
      });
    }

    override async rollback(config: Knex.MigratorConfig & StagedOptions = {}, all = false): Promise<MigrateResult> {
      const { preDeploy, lock, ...knexConfig } = config;
      const options = { preDeploy: preDeploy === true, all };
      assertRunnable(await this.planRollback(options));
      return this.locked(knexConfig, lock, async () => {
        const plan = await this.planRollback(options);
        assertRunnable(plan);
        const source = await this.sourceFor(plan, new Set());
        if (!preDeploy) return super.rollback({ ...knexConfig, migrationSource: source }, all);
        // knex rolls back whole batches; a staged rollback reverts the chosen migrations one by one.
        const reverted: string[] = [];
        let batch = 0;
        for (const migration of plan.migrations) {
          const [b, log] = await super.down({ ...knexConfig, name: migration.name, migrationSource: source });
          batch = b;
          reverted.push(...log);
        }
        return [batch, reverted];
      });
    }

    override async up(config: StepConfig = {}): Promise<MigrateResult> {
      const { lock, ...knexConfig } = config;
      const planUp = async (): Promise<MigrationPlan> => {
        const loaded = await this.loadPending();
        const target = knexConfig.name ? loaded.filter((m) => m.name === knexConfig.name) : loaded.slice(0, 1);
        return this.analyse(target, 'up', null, []);
      };
      assertRunnable(await planUp());
      return this.locked(knexConfig, lock, async () => {
        const plan = await planUp();
        assertRunnable(plan);
        const name = knexConfig.name ?? plan.migrations[0]?.name;
        return super.up({ ...knexConfig, ...(name ? { name } : {}), migrationSource: await this.sourceFor(plan, new Set()) });
      });
    }

    override async down(config: StepConfig = {}): Promise<MigrateResult> {
      const { lock, ...knexConfig } = config;
      const planDown = async (): Promise<MigrationPlan> => {
        // The last migration applied (by id), not knex's default (the last completed in file order):
        // after --pre-deploy the two differ, and the one reverted must be the one analysed.
        const name = knexConfig.name ?? (await this.completedRows()).at(-1)?.name;
        return this.analyse(await this.loadByName(name ? [name] : []), 'down', null, []);
      };
      assertRunnable(await planDown());
      return this.locked(knexConfig, lock, async () => {
        const plan = await planDown();
        assertRunnable(plan);
        const name = plan.migrations[0]?.name;
        if (name === undefined) return [0, []];
        return super.down({ ...knexConfig, name, migrationSource: await this.sourceFor(plan, new Set()) });
      });
    }

    async planLatest(options: StagedOptions = {}): Promise<MigrationPlan> {
      const pending = await this.loadPending();
      const reports = await this.reports(pending, 'up');
      if (!options.preDeploy) return this.plan('up', null, reports, []);
      const run = reports.filter((m) => m.stage === 'pre-deploy' || m.stage === null);
      const skipped = reports.filter((m) => m.stage === 'post-deploy');
      const plan = this.plan('up', 'pre-deploy', run, skipped);
      return { ...plan, conflicts: findStageOrderConflicts(reports, new Set(skipped.map((m) => m.name))) };
    }

    async planRollback(options: StagedOptions & { all?: boolean } = {}): Promise<MigrationPlan> {
      const rows = await this.completedRows();
      const lastBatch = Math.max(0, ...rows.map((r) => r.batch));
      const targets = rows
        .filter((r) => options.all || r.batch === lastBatch)
        .reverse()
        .map((r) => r.name);
      const reports = await this.reports(await this.loadByName(targets), 'down');
      if (!options.preDeploy) return this.plan('down', null, reports, []);
      return this.plan(
        'down',
        'pre-deploy',
        reports.filter((m) => m.stage !== 'post-deploy'),
        reports.filter((m) => m.stage === 'post-deploy'),
      );
    }

    async check(): Promise<{ migrations: readonly MigrationReport[]; result: CheckResult }> {
      const all = await this.loadAll();
      const migrations = await this.reports(all, 'up');
      return { migrations, result: runChecks(migrations, this.settings) };
    }

    async status(): Promise<MigrationStatus[]> {
      const rows = await this.completedRows();
      const batches = new Map(rows.map((r) => [r.name, r.batch]));
      const reports = await this.reports(await this.loadAll(), 'up');
      return reports.map((m) => ({
        name: m.name,
        state: batches.has(m.name) ? 'completed' : 'pending',
        batch: batches.get(m.name) ?? null,
        stage: m.stage,
        stageSource: m.stageSource,
      }));
    }

    /** Runs `fn` holding knex-zd's migration lock on this migrator's migrations table. */
    private async locked<T>(knexConfig: Knex.MigratorConfig, lock: MigrationLockRunOptions | undefined, fn: () => Promise<T>): Promise<T> {
      const logger = (this.knex.client as { logger?: { warn?: (message: string) => void } }).logger;
      const onEvent =
        lock?.onEvent ??
        options.lock?.onEvent ??
        ((event) => {
          const line = formatMigrationLockEvent(event);
          if (line !== null) logger?.warn?.(line);
        });
      return withMigrationLock(
        this.knex,
        {
          ...options.lock,
          ...lock,
          onEvent,
          migrationsTable: knexConfig.tableName ?? this.config.tableName,
          schemaName: knexConfig.schemaName ?? this.config.schemaName ?? undefined,
        },
        fn,
      );
    }

    private plan(
      direction: Direction,
      stage: Stage | null,
      migrations: MigrationReport[],
      skipped: MigrationReport[],
    ): MigrationPlan {
      // Skipped migrations are checked too: a mistake in them would only surface at the next step.
      const checks = runChecks([...migrations, ...skipped].sort(byName), this.settings);
      return { direction, stage, migrations, skipped, conflicts: [], checks };
    }

    private async analyse(loaded: Loaded[], direction: Direction, stage: Stage | null, skipped: MigrationReport[]) {
      return this.plan(direction, stage, await this.reports(loaded, direction), skipped);
    }

    private async reports(loaded: readonly Loaded[], direction: Direction): Promise<MigrationReport[]> {
      const transactionsDisabled = this.config.disableTransactions === true;
      const out: MigrationReport[] = [];
      for (const m of loaded) {
        out.push(
          await analyzeMigration(
            this.knex,
            { name: m.name, file: fileOf(m.info), module: m.module, loadError: m.error },
            { direction, settings: this.settings, transactionsDisabled },
          ),
        );
      }
      return out;
    }

    private get source(): Knex.MigrationSource<unknown> {
      return this.config.migrationSource;
    }

    private async load(infos: readonly unknown[]): Promise<Loaded[]> {
      const out: Loaded[] = [];
      for (const info of infos) {
        const name = this.source.getMigrationName(info);
        try {
          out.push({ name, info, module: (await this.source.getMigration(info)), error: null });
        } catch (error) {
          out.push({ name, info, module: null, error: error instanceof Error ? error : new Error(String(error)) });
        }
      }
      return out;
    }

    private async allInfos(): Promise<unknown[]> {
      return this.source.getMigrations(this.config.loadExtensions ?? []);
    }

    private async loadAll(): Promise<Loaded[]> {
      return this.load(await this.allInfos());
    }

    private async loadPending(): Promise<Loaded[]> {
      // Not knex's list(): it creates the migrations tables, and planning must write nothing.
      const completed = new Set((await this.completedRows()).map((r) => r.name));
      return this.load((await this.allInfos()).filter((info) => !completed.has(this.source.getMigrationName(info))));
    }

    private async loadByName(names: readonly string[]): Promise<Loaded[]> {
      const infos = await this.allInfos();
      const byName = new Map(infos.map((info) => [this.source.getMigrationName(info), info]));
      const missing = names.filter((n) => !byName.has(n));
      if (missing.length > 0) {
        throw new StageError(
          `These migrations are recorded as completed in ${this.config.tableName} but their files are missing: ${missing.join(', ')}.`,
          { details: { missing } },
        );
      }
      return this.load(names.map((n) => byName.get(n)));
    }

    private async completedRows(): Promise<Array<{ name: string; batch: number }>> {
      const { tableName, schemaName } = this.config;
      const table = schemaName ? this.knex.schema.withSchema(schemaName) : this.knex.schema;
      if (!(await table.hasTable(tableName))) return [];
      const query = schemaName ? this.knex.withSchema(schemaName).from(tableName) : this.knex.from(tableName);
      return (await query.select('name', 'batch').orderBy('id')) as Array<{ name: string; batch: number }>;
    }

    private async sourceFor(plan: MigrationPlan, hidden: ReadonlySet<string>): Promise<StagedMigrationSource<unknown>> {
      const prepared = new Map<string, PreparedMigration>();
      const loaded = await this.loadByName(plan.migrations.map((m) => m.name));
      for (const [i, report] of plan.migrations.entries()) {
        const module = loaded[i].module!;
        prepared.set(report.name, prepare(module, report, this.settings));
      }
      return new StagedMigrationSource(this.source, hidden, prepared);
    }
  }

  return new Staged(knex);
}

function byName(a: MigrationReport, b: MigrationReport): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function fileOf(info: unknown): string | null {
  const m = info as { file?: unknown; directory?: unknown } | null;
  if (m && typeof m.file === 'string' && typeof m.directory === 'string') return `${m.directory}/${m.file}`;
  return null;
}

/** The module knex runs: the transaction decision of the analysis, and the runner's timeouts and retries. */
function prepare(module: MigrationModule, report: MigrationReport, settings: Settings): PreparedMigration {
  const config = { ...module.config, transaction: report.transaction };
  const context = { name: report.name, transaction: report.transaction, settings };
  const up = module.up as Knex.Migration['up'];
  const down = module.down as Knex.Migration['down'];
  const wrappedUp = wrapMigration({ up, down, config }, { ...context, direction: 'up' });
  const wrappedDown = wrapMigration({ up, down, config }, { ...context, direction: 'down' });
  return { up: wrappedUp.up, down: wrappedDown.down, config };
}

/** Formats findings as the one-paragraph-each text that errors and `check` print. */
export function describeFindings(findings: readonly CheckFinding[]): string {
  return findings
    .map((f) => `[${f.code}] ${f.migration ?? ''}: ${f.message}${f.hint ? `\n  Safe alternative:\n    ${f.hint.replace(/\n/g, '\n    ')}` : ''}`)
    .join('\n\n');
}

/** Throws when a plan must not run: error-level findings, or a stage-order conflict. */
export function assertRunnable(plan: MigrationPlan): void {
  const errors = plan.checks.findings.filter((f) => f.severity === 'error');
  if (errors.length > 0) {
    throw new CheckFailedError(
      `Refusing to migrate: ${errors.length} check${errors.length === 1 ? '' : 's'} failed. Nothing was applied.\n\n${describeFindings(errors)}`,
      { details: { findings: errors } },
    );
  }
  if (plan.conflicts.length > 0) {
    const lines = plan.conflicts.map(
      (c) =>
        `${c.migration} is pre-deploy, but it comes after ${c.dependsOn}, a post-deploy migration that --pre-deploy skips, and both change ${c.object}.`,
    );
    throw new StageError(
      `Refusing to apply the pre-deploy migrations out of order. Nothing was applied.\n${lines.join('\n')}\n` +
        'Applying the later migration first could be wrong. Either run the whole release after the roll-out ' +
        '(knex-zd migrate:latest), or move the post-deploy migration to a later release.',
      { details: { conflicts: plan.conflicts } },
    );
  }
}
