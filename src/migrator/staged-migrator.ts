import type { Knex } from 'knex';
import { analyzeMigration, type MigrationInput, type MigrationModule } from '../analysis/analyze-migration.js';
import { CaptureSession } from '../analysis/capture/capture-session.js';
import { ShadowSession, type ShadowMigratorConfig } from '../analysis/shadow/shadow-session.js';
import type { CheckFinding, Direction, MigrationReport } from '../analysis/migration-types.js';
import { loadTargetFacts, lockedRelations, type TargetFacts } from '../analysis/table-stats.js';
import { assertKnownCheckIds } from '../checks/check-options.js';
import { CHECKS, runChecks, type CheckResult } from '../checks/index.js';
import { parseSettings, type Settings } from '../config.js';
import { CheckFailedError, ConfigError, MigrationError, StageError } from '../errors.js';
import type { Stage, StageSource } from '../stages.js';
import { baselineNames } from './baseline.js';
import { formatMigrationLockEvent } from './lock-events.js';
import { assertNoMissingFiles, assertOverridesMatch, migrationsLocation, unknownMigrationError } from './migration-files.js';
import { withMigrationLock, type MigrationLockOptions } from './migration-lock.js';
import { findStageOrderConflicts, splitPreDeployRollback, type PreDeployRollback, type StageOrderConflict, type WaitingRevert } from './stage-order.js';
import { prepareMigration } from './prepare-migration.js';
import { decideSafeForms } from '../safe-by-default/decide.js';
import type { SafeFormDirective } from '../safe-by-default/directive.js';
import { StagedMigrationSource, type PreparedMigration } from './staged-migration-source.js';

/** The options the staged commands add to knex's migrator config. */
export interface StagedOptions {
  /** Apply (or revert) only the migrations of the pre-deploy stage. @default false */
  readonly preDeploy?: boolean;
  /** The migration lock of this command (wait or not, how long, progress); merged over the migrator's. */
  readonly lock?: MigrationLockRunOptions;
  /**
   * A plan the caller already made (and showed) with the same options: `latest`/`rollback` run it,
   * making it again under the lock only when the completed migrations changed since.
   */
  readonly plan?: MigrationPlan;
}

/** How a command's migrations were analysed. */
export interface AnalysisInfo {
  /** `'shadow'`: run and traced in a shadow database; `'capture'`: captured without running. */
  readonly mode: 'shadow' | 'capture';
  /** How the shadow got the target's schema: a `pg_dump` copy, or a replay of the completed migrations. */
  readonly schema: 'pg_dump' | 'replay' | null;
  /** The shadow database's name (dropped afterwards when knex-zd created it). */
  readonly database: string | null;
  /** Why there was no shadow database when the settings asked for one (one line, for stderr). */
  readonly notice: string | null;
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
  /**
   * A `--pre-deploy` rollback's pre-deploy reverts that wait for the post-deploy step (they are
   * in `skipped`), each with the revert before it that it depends on.
   */
  readonly waiting: readonly WaitingRevert[];
  readonly checks: CheckResult;
  readonly analysis: AnalysisInfo;
  /** The migrations that were completed when the plan was made, in the order they were applied. */
  readonly completed: readonly string[];
  /** The target database's version and the sizes of the tables the plan locks (read once, read-only). */
  readonly target: TargetFacts;
  /**
   * Completed migrations whose files are gone, shown only when the knexfile sets knex's
   * `migrations.disableMigrationsListValidation` (otherwise they are an error, as in knex).
   */
  readonly missing: readonly string[];
}

/** A migration with its state and stage, for `migrate:status`/`migrate:list`. */
export interface MigrationStatus {
  readonly name: string;
  /** `'missing'`: recorded as completed, but its file is gone (listed only with knex's `disableMigrationsListValidation`). */
  readonly state: 'completed' | 'pending' | 'missing';
  readonly batch: number | null;
  readonly stage: Stage | null;
  readonly stageSource: StageSource | null;
  /** True for the baseline: at or before `zeroDowntime.startAfter`, exempt from the checks. */
  readonly baseline: boolean;
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
  /**
   * Analyses every migration (completed or not) and runs the checks; with `pending`, only the
   * pending migrations, analysed against the target's current schema.
   */
  check(options?: CheckOptions): Promise<{ migrations: readonly MigrationReport[]; result: CheckResult; analysis: AnalysisInfo; target: TargetFacts }>;
  /** Every migration with its state and stage. */
  status(): Promise<MigrationStatus[]>;
  /** The pending migrations, loaded, in file order (for tools that run them elsewhere, such as verify). */
  pendingInputs(): Promise<MigrationInput[]>;
  /** Names of the completed migrations, in the order they were applied. */
  completedNames(): Promise<string[]>;
  /** What a shadow run needs of this migrator's config. */
  readonly shadowConfig: ShadowMigratorConfig;
}

/** Options of {@link StagedMigrator.check}. */
export interface CheckOptions {
  /** Check only the pending migrations (the completed ones are history). @default false */
  readonly pending?: boolean;
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
  assertKnownCheckIds(settings);
  // knex.migrate returns a new Migrator each time; its class is the one to extend.
  let overridesChecked = false;
  const customSource = (knex.client.config as Knex.Config).migrations?.migrationSource !== undefined;
  const Base = knex.migrate.constructor as new (knex: Knex) => KnexMigrator;

  class Staged extends Base implements StagedMigrator {
    readonly settings = settings;

    constructor(k: Knex) {
      super(k);
      // knex's default loadExtensions has no .mjs, although `knex migrate:make -x mjs` writes such
      // files: they would be skipped without a word. An explicit loadExtensions is the user's choice.
      if ((k.client.config as Knex.Config).migrations?.loadExtensions === undefined) {
        this.config = { ...this.config, loadExtensions: withMjs(this.config.loadExtensions) };
      }
    }

    override async latest(config: Knex.MigratorConfig & StagedOptions = {}): Promise<MigrateResult> {
      const { preDeploy, lock, plan: given, ...knexConfig } = config;
      const options = { preDeploy: preDeploy === true };
      return this.planned(knexConfig, lock, () => this.planLatest(options), given, async (plan) => {
        const source = await this.sourceFor(plan, new Set(plan.skipped.map((m) => m.name)));
        return super.latest({ ...knexConfig, migrationSource: source });
      });
    }

    override async rollback(config: Knex.MigratorConfig & StagedOptions = {}, all = false): Promise<MigrateResult> {
      const { preDeploy, lock, plan: given, ...knexConfig } = config;
      const options = { preDeploy: preDeploy === true, all };
      return this.planned(knexConfig, lock, () => this.planRollback(options), given, async (plan) => {
        const source = await this.sourceFor(plan, new Set());
        if (!preDeploy && !all) return super.rollback({ ...knexConfig, migrationSource: source }, all);
        // knex rolls back whole batches (--all: in reverse file order); a staged rollback reverts
        // the plan's migrations one by one, in the plan's order: the reverse of the order they ran.
        const reverted: string[] = [];
        let batch: number | null = null;
        for (const migration of plan.migrations) {
          const [b, log] = await super.down({ ...knexConfig, name: migration.name, migrationSource: source });
          batch ??= b;
          reverted.push(...log);
        }
        return [batch ?? 0, reverted];
      });
    }

    override async up(config: StepConfig = {}): Promise<MigrateResult> {
      const { lock, ...knexConfig } = config;
      const planUp = async (): Promise<MigrationPlan> => {
        const basis = await this.completedNames();
        if (knexConfig.name) await this.assertStep('up', knexConfig.name);
        const loaded = await this.loadPending();
        const target = knexConfig.name ? loaded.filter((m) => m.name === knexConfig.name) : loaded.slice(0, 1);
        return this.analyse(target, 'up', null, [], basis);
      };
      return this.planned(knexConfig, lock, planUp, undefined, async (plan) => {
        const name = knexConfig.name ?? plan.migrations[0]?.name;
        return super.up({ ...knexConfig, ...(name ? { name } : {}), migrationSource: await this.sourceFor(plan, new Set()) });
      });
    }

    override async down(config: StepConfig = {}): Promise<MigrateResult> {
      const { lock, ...knexConfig } = config;
      const planDown = async (): Promise<MigrationPlan> => {
        // The last migration applied (by id), not knex's default (the last completed in file order):
        // after --pre-deploy the two differ, and the one reverted must be the one analysed.
        const basis = (await this.listed()).rows.map((r) => r.name);
        if (knexConfig.name) await this.assertStep('down', knexConfig.name);
        const name = knexConfig.name ?? basis.at(-1);
        return this.analyse(await this.loadByName(name ? [name] : []), 'down', null, [], basis);
      };
      return this.planned(knexConfig, lock, planDown, undefined, async (plan) => {
        const name = plan.migrations[0]?.name;
        if (name === undefined) return [0, []];
        return super.down({ ...knexConfig, name, migrationSource: await this.sourceFor(plan, new Set()) });
      });
    }

    /**
     * Plans (or takes the caller's plan), refuses before touching anything when it cannot run,
     * then runs it holding the migration lock. Under the lock the plan is made again only when
     * the completed migrations changed meanwhile (a run that waited for another sees what that
     * one applied); otherwise the analysis, which may have run a whole shadow database, is reused.
     */
    private async planned<T>(
      knexConfig: Knex.MigratorConfig,
      lock: MigrationLockRunOptions | undefined,
      compute: () => Promise<MigrationPlan>,
      given: MigrationPlan | undefined,
      run: (plan: MigrationPlan) => Promise<T>,
    ): Promise<T> {
      const first = given ?? (await compute());
      assertRunnable(first);
      return this.locked(knexConfig, lock, async () => {
        const now = await this.completedNames();
        const unchanged = now.length === first.completed.length && now.every((name, i) => name === first.completed[i]);
        const plan = unchanged ? first : await compute();
        assertRunnable(plan);
        return run(plan);
      });
    }

    async planLatest(options: StagedOptions = {}): Promise<MigrationPlan> {
      const basis = await this.completedNames();
      const pending = await this.loadPending();
      const { reports, analysis } = await this.reports(pending, 'up', 'completed');
      if (!options.preDeploy) return this.plan('up', null, reports, [], analysis, basis);
      let run = reports.filter((m) => m.stage === 'pre-deploy' || m.stage === null);
      const skipped = reports.filter((m) => m.stage === 'post-deploy');
      const skippedNames = new Set(skipped.map((m) => m.name));
      // In the shadow each migration ran after the ones before it in file order; when a skipped
      // migration came first, run the pre-deploy ones again on their own, as they will really run.
      const conflicts = findStageOrderConflicts(reports, skippedNames);
      const firstSkipped = reports.findIndex((m) => skippedNames.has(m.name));
      if (analysis.mode === 'shadow' && firstSkipped >= 0 && run.some((m) => reports.indexOf(m) > firstSkipped)) {
        const again = await this.reports(pending.filter((m) => run.some((r) => r.name === m.name)), 'up', 'completed');
        // A migration that ran after the skipped ones but fails without them depends on them,
        // whatever the objects it names: that is a stage-order conflict, shown as one.
        run = again.reports.map((report, i) => {
          const before = run[i];
          if (!report.error || before.error) return report;
          if (!conflicts.some((c) => c.migration === report.name)) {
            const dependsOn = reports.slice(0, reports.indexOf(before)).filter((m) => skippedNames.has(m.name)).at(-1)?.name ?? '';
            conflicts.push({ migration: report.name, dependsOn, object: `what it needs (without it, in the shadow database: ${report.error.message.replace(/^it failed when run in the shadow database: /, '')})` });
          }
          return before;
        });
      }
      const plan = await this.plan('up', 'pre-deploy', run, skipped, analysis, basis);
      return { ...plan, conflicts };
    }

    async planRollback(options: StagedOptions & { all?: boolean } = {}): Promise<MigrationPlan> {
      const { rows } = await this.listed();
      const basis = rows.map((r) => r.name);
      const lastBatch = Math.max(0, ...rows.map((r) => r.batch));
      // The reverse of the order they were applied (by id, not by file name: --pre-deploy runs reorder them).
      const targets = rows
        .filter((r) => options.all || r.batch === lastBatch)
        .reverse()
        .map((r) => r.name);
      const loaded = await this.loadByName(targets);
      const { reports, analysis } = await this.reports(loaded, 'down', 'completed');
      if (!options.preDeploy) return this.plan('down', null, reports, [], analysis, basis);
      let split = splitPreDeployRollback(reports);
      // In the shadow, each revert ran after the ones before it; when a revert that waits came
      // first, run the two steps as they will really run. A revert of the second step that then
      // fails depends on the first step in a way the objects did not show (a view over a table
      // whose column it drops): the first step keeps strict reverse order instead.
      if (analysis.mode === 'shadow' && reordered(reports, split.now)) {
        const steps = [...split.now, ...split.later];
        const again = await this.reports(steps.map((r) => loaded[targets.indexOf(r.name)]), 'down', 'completed');
        const failed = again.reports.slice(split.now.length).find((r) => r.error && !reports.find((m) => m.name === r.name)?.error);
        split = failed ? strictPreDeployRollback(reports, failed) : { ...split, now: again.reports.slice(0, split.now.length) };
      }
      const plan = await this.plan('down', 'pre-deploy', [...split.now], [...split.later], analysis, basis);
      return { ...plan, waiting: split.waiting };
    }

    async check(options: CheckOptions = {}): Promise<{ migrations: readonly MigrationReport[]; result: CheckResult; analysis: AnalysisInfo; target: TargetFacts }> {
      const exempt = await this.baseline();
      // In a shadow, every migration runs from an empty database, in file order; pending ones alone
      // run after the target's schema, as they will.
      const { reports: migrations, analysis } = options.pending
        ? await this.reports(await this.loadPending(), 'up', 'completed')
        : await this.reports(await this.loadAll(), 'up', 'nothing');
      const target = await loadTargetFacts(this.knex, lockedRelations(migrations.filter((m) => !exempt.has(m.name))));
      return { migrations, result: runChecks(migrations, this.settings, CHECKS, target, exempt), analysis, target };
    }

    async status(): Promise<MigrationStatus[]> {
      const { rows, infos, missing } = await this.listed();
      const batches = new Map(rows.map((r) => [r.name, r.batch]));
      // The completed migrations are history: their stages come from capture mode, each against the
      // current schema, so that a status never runs the whole history in a shadow database; the
      // pending ones are analysed as migrate:plan analyses them (safe forms keep each statement's
      // stage: the first analysis tells the stages).
      const loaded = await this.load(infos);
      const done = loaded.filter((m) => batches.has(m.name));
      const pending = loaded.filter((m) => !batches.has(m.name));
      const byName = new Map<string, MigrationReport>();
      for (const r of await this.captured(done, 'up', new Set(done.map((m) => m.name)))) byName.set(r.name, r);
      if (pending.length > 0) for (const r of (await this.reports(pending, 'up', 'completed', false)).reports) byName.set(r.name, r);
      const reports = loaded.map((m) => byName.get(m.name)!);
      const exempt = await this.baseline();
      const listed: MigrationStatus[] = reports.map((m) => ({
        name: m.name,
        state: batches.has(m.name) ? 'completed' : 'pending',
        batch: batches.get(m.name) ?? null,
        stage: m.stage,
        stageSource: m.stageSource,
        baseline: exempt.has(m.name),
      }));
      const gone: MigrationStatus[] = missing.map((name) => ({ name, state: 'missing', batch: batches.get(name) ?? null, stage: null, stageSource: null, baseline: false }));
      return [...listed, ...gone].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }

    async pendingInputs(): Promise<MigrationInput[]> {
      return (await this.loadPending()).map((m) => ({ name: m.name, file: fileOf(m.info), module: m.module, loadError: m.error }));
    }

    async completedNames(): Promise<string[]> {
      return (await this.completedRows()).map((r) => r.name);
    }

    get shadowConfig(): ShadowMigratorConfig {
      return {
        migrationSource: this.source,
        tableName: this.config.tableName,
        ...(this.config.schemaName ? { schemaName: this.config.schemaName } : {}),
        disableTransactions: this.config.disableTransactions === true,
        loadExtensions: this.config.loadExtensions ?? [],
      };
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

    private async plan(
      direction: Direction,
      stage: Stage | null,
      migrations: MigrationReport[],
      skipped: MigrationReport[],
      analysis: AnalysisInfo,
      /** The completed migrations read before the analysis began. */
      basis: readonly string[],
    ): Promise<MigrationPlan> {
      // Skipped migrations are checked too: a mistake in them would only surface at the next step.
      const checked = [...migrations, ...skipped].sort(byName);
      // Sizes and the server's version come from the target, once per plan (read-only).
      const exempt = await this.baseline();
      const target = await loadTargetFacts(this.knex, lockedRelations(checked.filter((m) => !exempt.has(m.name))));
      const checks = runChecks(checked, this.settings, CHECKS, target, exempt);
      const { missing } = await this.listed();
      return { direction, stage, migrations, skipped, conflicts: [], waiting: [], checks, analysis, target, completed: basis, missing };
    }

    private async analyse(loaded: Loaded[], direction: Direction, stage: Stage | null, skipped: MigrationReport[], basis: readonly string[]) {
      const { reports, analysis } = await this.reports(loaded, direction, 'completed');
      return this.plan(direction, stage, reports, skipped, analysis, basis);
    }

    /**
     * Analyses migrations in the order they would run. In a shadow database (unless the settings
     * say `shadow: false`, or none can be had) after replaying the completed migrations (`from:
     * 'completed'`) or from an empty database (`'nothing'`: every migration, as `check` wants it);
     * else in capture mode, one session carrying what each changes to the ones after it (completed
     * migrations, for `check` and `status`, each against the current schema alone).
     */
    private async reports(
      loaded: readonly Loaded[],
      direction: Direction,
      from: 'completed' | 'nothing',
      safeForms = true,
    ): Promise<{ reports: MigrationReport[]; analysis: AnalysisInfo }> {
      const first = await this.analysed(loaded, direction, from, new Map());
      if (!this.settings.safeByDefault || !safeForms) return first;
      // safeByDefault: the statements the checks refuse and that have a safe form are known once
      // the first analysis is checked; a second one runs them in their safe form, as the real run will.
      const target = await loadTargetFacts(this.knex, lockedRelations(first.reports));
      const decided = decideSafeForms(first.reports, runChecks(first.reports, this.settings, CHECKS, target, await this.baseline()).findings);
      if (decided.size === 0) return first;
      return this.analysed(loaded, direction, from, decided);
    }

    private async analysed(
      loaded: readonly Loaded[],
      direction: Direction,
      from: 'completed' | 'nothing',
      safeForms: ReadonlyMap<string, readonly SafeFormDirective[]>,
    ): Promise<{ reports: MigrationReport[]; analysis: AnalysisInfo }> {
      const inputs = loaded.map((m) => ({ name: m.name, file: fileOf(m.info), module: m.module, loadError: m.error }));
      const completed = (await this.completedRows()).map((r) => r.name);
      let notice: string | null = null;
      if (this.settings.shadow.mode !== 'off') {
        const shadow = await ShadowSession.open(this.knex, this.settings, this.shadowConfig);
        if (shadow instanceof ShadowSession) {
          try {
            const prepared = await shadow.prepare(from === 'completed' ? completed : [], from === 'completed' ? 'target' : 'empty');
            const notice = prepared.notice && `knex-zd: the shadow database replays the completed migrations, because ${prepared.notice}; what no migration created is not in it.`;
            return { reports: await shadow.analyse(inputs, direction, { safeForms }), analysis: { mode: 'shadow', schema: prepared.schema, database: shadow.name, notice } };
          } finally {
            await shadow.close();
          }
        }
        notice = `knex-zd: no shadow database (${shadow.reason}); analysing in capture mode. Set zeroDowntime.shadow to a scratch database URL, or to false to silence this.`;
      }
      const independent = from === 'nothing' ? new Set(completed) : new Set<string>();
      return { reports: await this.captured(loaded, direction, independent, safeForms), analysis: { mode: 'capture', schema: null, database: null, notice } };
    }

    /**
     * Capture mode: one session carries what each migration changes to the ones after it, except
     * for the `independent` ones, each captured on its own against the current schema.
     */
    private async captured(
      loaded: readonly Loaded[],
      direction: Direction,
      independent: ReadonlySet<string>,
      safeForms: ReadonlyMap<string, readonly SafeFormDirective[]> = new Map(),
    ): Promise<MigrationReport[]> {
      const transactionsDisabled = this.config.disableTransactions === true;
      const shared = await CaptureSession.open(this.knex);
      const out: MigrationReport[] = [];
      for (const m of loaded) {
        const input = { name: m.name, file: fileOf(m.info), module: m.module, loadError: m.error };
        const session = independent.has(m.name) ? await CaptureSession.open(this.knex) : shared;
        out.push(await analyzeMigration(this.knex, input, { direction, settings: this.settings, transactionsDisabled, session, safeForms: safeForms.get(m.name) ?? [] }));
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
      const infos = await this.source.getMigrations(this.config.loadExtensions ?? []);
      if (!overridesChecked) {
        assertOverridesMatch(this.settings, infos.map((info) => this.source.getMigrationName(info)), this.location);
        overridesChecked = true;
      }
      return infos;
    }

    /**
     * `up NAME` and `down NAME` need a migration that exists, and `down NAME` one that ran: else a
     * usage error that says which it is (knex says "not found" or "was not run"). `up` of a
     * completed migration does nothing, as in knex.
     */
    private async assertStep(direction: 'up' | 'down', name: string): Promise<void> {
      const { rows, infos } = await this.listed();
      const names = infos.map((info) => this.source.getMigrationName(info));
      const row = rows.find((r) => r.name === name);
      if (!names.includes(name)) {
        // A completed migration without its file (allowed by disableMigrationsListValidation) cannot be reverted.
        if (row && direction === 'down') return;
        throw unknownMigrationError(name, names, this.location);
      }
      if (direction === 'down' && !row) {
        throw new ConfigError(`The migration ${JSON.stringify(name)} has not been run (it is pending), so there is nothing to revert. knex-zd migrate:status shows what is completed.`, {
          details: { name, state: 'pending' },
        });
      }
    }

    /** Where the migration files are, for messages. */
    private get location(): string {
      return migrationsLocation(this.config, customSource);
    }

    /**
     * The completed rows and every migration file; completed migrations without a file are an
     * error, as in knex, unless the knexfile sets `disableMigrationsListValidation`.
     */
    private async listed(): Promise<{ rows: Array<{ name: string; batch: number }>; infos: unknown[]; missing: string[] }> {
      const rows = await this.completedRows();
      const infos = await this.allInfos();
      const names = new Set(infos.map((info) => this.source.getMigrationName(info)));
      const missing = rows.map((r) => r.name).filter((name) => !names.has(name));
      if (!this.config.disableMigrationsListValidation) assertNoMissingFiles(missing, this.config.tableName, this.location);
      return { rows, infos, missing };
    }

    /** The migrations exempt from the checks: `startAfter` and every one before it. */
    private async baseline(): Promise<ReadonlySet<string>> {
      if (this.settings.startAfter === null) return new Set();
      const names = (await this.allInfos()).map((info) => this.source.getMigrationName(info));
      return baselineNames(names, this.settings.startAfter, customSource ? this.location : `the migrations directory (${this.location})`);
    }

    private async loadAll(): Promise<Loaded[]> {
      return this.load(await this.allInfos());
    }

    private async loadPending(): Promise<Loaded[]> {
      // Not knex's list(): it creates the migrations tables, and planning must write nothing.
      const { rows, infos } = await this.listed();
      const completed = new Set(rows.map((r) => r.name));
      return this.load(infos.filter((info) => !completed.has(this.source.getMigrationName(info))));
    }

    private async loadByName(names: readonly string[]): Promise<Loaded[]> {
      const infos = await this.allInfos();
      const byName = new Map(infos.map((info) => [this.source.getMigrationName(info), info]));
      const missing = names.filter((n) => !byName.has(n));
      if (missing.length > 0) {
        throw new MigrationError(
          `Cannot revert ${missing.join(', ')}: recorded as completed in ${this.config.tableName}, but ${missing.length === 1 ? 'its file is' : 'their files are'} missing from ${this.location}. Restore the file${missing.length === 1 ? '' : 's'} first.`,
          { details: { missing, location: this.location } },
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
        prepared.set(report.name, prepareMigration(module, report.name, report.transaction, this.settings, report.safeForms ?? []));
      }
      return new StagedMigrationSource(this.source, hidden, prepared);
    }
  }

  return new Staged(knex);
}

/** knex's default extensions plus `.mjs`. */
function withMjs(extensions: readonly string[] | undefined): string[] {
  const list = [...(extensions ?? [])];
  return list.includes('.mjs') ? list : [...list, '.mjs'];
}

/** True when some revert of `now` comes after a revert that waits: the two steps change the order. */
function reordered(ordered: readonly MigrationReport[], now: readonly MigrationReport[]): boolean {
  const running = new Set(now.map((m) => m.name));
  const firstWaiting = ordered.findIndex((m) => !running.has(m.name));
  return firstWaiting >= 0 && ordered.slice(firstWaiting).some((m) => running.has(m.name));
}

/**
 * A `--pre-deploy` rollback in strict reverse order: the pre-deploy reverts up to the first one
 * that waits; everything after it waits too, because running the two steps out of order made
 * `failed` fail in the shadow database.
 */
function strictPreDeployRollback(ordered: readonly MigrationReport[], failed: MigrationReport): PreDeployRollback {
  const firstWaiting = ordered.findIndex((m) => m.stage === 'post-deploy');
  const now = firstWaiting < 0 ? [...ordered] : ordered.slice(0, firstWaiting);
  const later = firstWaiting < 0 ? [] : ordered.slice(firstWaiting);
  const error = (failed.error?.message ?? 'an error').replace(/^it failed when run in the shadow database: /, '').replace(/\. It would most likely fail .*$/s, '');
  const reason = `reverting it first makes the revert of ${failed.name} fail in the shadow database (${error})`;
  const waiting = later
    .filter((m) => m.stage !== 'post-deploy')
    .map((m) => ({ migration: m.name, waitsFor: ordered[firstWaiting].name, reason }));
  return { now, later, waiting };
}

function byName(a: MigrationReport, b: MigrationReport): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function fileOf(info: unknown): string | null {
  const m = info as { file?: unknown; directory?: unknown } | null;
  if (m && typeof m.file === 'string' && typeof m.directory === 'string') return `${m.directory}/${m.file}`;
  return null;
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
