import type { Knex } from 'knex';
import { analyzeMigration, type MigrationInput, type MigrationModule } from '../analysis/analyze-migration.js';
import { CaptureSession } from '../analysis/capture/capture-session.js';
import { ShadowSession, type ShadowMigratorConfig } from '../analysis/shadow/shadow-session.js';
import type { CheckFinding, Direction, MigrationReport } from '../analysis/migration-types.js';
import { loadTargetFacts, lockedRelations, type TargetFacts } from '../analysis/table-stats.js';
import { CHECKS, runChecks, type CheckResult } from '../checks/index.js';
import { parseSettings, type Settings } from '../config.js';
import { CheckFailedError, StageError } from '../errors.js';
import type { Stage, StageSource } from '../stages.js';
import { findStageOrderConflicts, type StageOrderConflict } from './stage-order.js';
import { prepareMigration } from './prepare-migration.js';
import { StagedMigrationSource, type PreparedMigration } from './staged-migration-source.js';

/** The options the staged commands add to knex's migrator config. */
export interface StagedOptions {
  /** Apply (or revert) only the migrations of the pre-deploy stage. @default false */
  readonly preDeploy?: boolean;
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
  readonly analysis: AnalysisInfo;
  /** The target database's version and the sizes of the tables the plan locks (read once, read-only). */
  readonly target: TargetFacts;
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
  /** What `latest` would apply, analysed and checked; touches nothing. */
  planLatest(options?: StagedOptions): Promise<MigrationPlan>;
  /** What `rollback` would revert, analysed and checked; touches nothing. */
  planRollback(options?: StagedOptions & { all?: boolean }): Promise<MigrationPlan>;
  /** Analyses every migration (completed or not) and runs the checks. */
  check(): Promise<{ migrations: readonly MigrationReport[]; result: CheckResult; analysis: AnalysisInfo; target: TargetFacts }>;
  /** Every migration with its state and stage. */
  status(): Promise<MigrationStatus[]>;
  /** The pending migrations, loaded, in file order (for tools that run them elsewhere, such as verify). */
  pendingInputs(): Promise<MigrationInput[]>;
  /** Names of the completed migrations, in the order they were applied. */
  completedNames(): Promise<string[]>;
  /** What a shadow run needs of this migrator's config. */
  readonly shadowConfig: ShadowMigratorConfig;
}

/** Options of {@link createStagedMigrator}. */
export interface StagedMigratorOptions {
  /** Settings to use instead of parsing the knexfile's `zeroDowntime` option (the CLI merges its flags in). */
  readonly settings?: Settings;
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
      const { preDeploy, ...knexConfig } = config;
      const plan = await this.planLatest({ preDeploy: preDeploy === true });
      assertRunnable(plan);
      const source = await this.sourceFor(plan, new Set(plan.skipped.map((m) => m.name)));
      return super.latest({ ...knexConfig, migrationSource: source });
    }

    override async rollback(config: Knex.MigratorConfig & StagedOptions = {}, all = false): Promise<MigrateResult> {
      const { preDeploy, ...knexConfig } = config;
      const plan = await this.planRollback({ preDeploy: preDeploy === true, all });
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
    }

    override async up(config: Knex.MigratorConfig = {}): Promise<MigrateResult> {
      const loaded = await this.loadPending();
      const name = (config as { name?: string }).name;
      const target = name ? loaded.filter((m) => m.name === name) : loaded.slice(0, 1);
      const plan = await this.analyse(target, 'up', null, []);
      assertRunnable(plan);
      return super.up({ ...config, migrationSource: await this.sourceFor(plan, new Set()) });
    }

    override async down(config: Knex.MigratorConfig = {}): Promise<MigrateResult> {
      const completed = await this.completedRows();
      const name = (config as { name?: string }).name ?? completed.at(-1)?.name;
      const loaded = await this.loadByName(name ? [name] : []);
      const plan = await this.analyse(loaded, 'down', null, []);
      assertRunnable(plan);
      return super.down({ ...config, migrationSource: await this.sourceFor(plan, new Set()) });
    }

    async planLatest(options: StagedOptions = {}): Promise<MigrationPlan> {
      const pending = await this.loadPending();
      const { reports, analysis } = await this.reports(pending, 'up', 'completed');
      if (!options.preDeploy) return this.plan('up', null, reports, [], analysis);
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
      const plan = await this.plan('up', 'pre-deploy', run, skipped, analysis);
      return { ...plan, conflicts };
    }

    async planRollback(options: StagedOptions & { all?: boolean } = {}): Promise<MigrationPlan> {
      const rows = await this.completedRows();
      const lastBatch = Math.max(0, ...rows.map((r) => r.batch));
      const targets = rows
        .filter((r) => options.all || r.batch === lastBatch)
        .reverse()
        .map((r) => r.name);
      const { reports, analysis } = await this.reports(await this.loadByName(targets), 'down', 'completed');
      if (!options.preDeploy) return this.plan('down', null, reports, [], analysis);
      return this.plan(
        'down',
        'pre-deploy',
        reports.filter((m) => m.stage !== 'post-deploy'),
        reports.filter((m) => m.stage === 'post-deploy'),
        analysis,
      );
    }

    async check(): Promise<{ migrations: readonly MigrationReport[]; result: CheckResult; analysis: AnalysisInfo; target: TargetFacts }> {
      const all = await this.loadAll();
      // In a shadow, every migration runs from an empty database, in file order.
      const { reports: migrations, analysis } = await this.reports(all, 'up', 'nothing');
      const target = await loadTargetFacts(this.knex, lockedRelations(migrations));
      return { migrations, result: runChecks(migrations, this.settings, CHECKS, target), analysis, target };
    }

    async status(): Promise<MigrationStatus[]> {
      const rows = await this.completedRows();
      const batches = new Map(rows.map((r) => [r.name, r.batch]));
      const { reports } = await this.reports(await this.loadAll(), 'up', 'nothing');
      return reports.map((m) => ({
        name: m.name,
        state: batches.has(m.name) ? 'completed' : 'pending',
        batch: batches.get(m.name) ?? null,
        stage: m.stage,
        stageSource: m.stageSource,
      }));
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

    private async plan(
      direction: Direction,
      stage: Stage | null,
      migrations: MigrationReport[],
      skipped: MigrationReport[],
      analysis: AnalysisInfo,
    ): Promise<MigrationPlan> {
      // Skipped migrations are checked too: a mistake in them would only surface at the next step.
      const checked = [...migrations, ...skipped].sort(byName);
      // Sizes and the server's version come from the target, once per plan (read-only).
      const target = await loadTargetFacts(this.knex, lockedRelations(checked));
      const checks = runChecks(checked, this.settings, CHECKS, target);
      return { direction, stage, migrations, skipped, conflicts: [], checks, analysis, target };
    }

    private async analyse(loaded: Loaded[], direction: Direction, stage: Stage | null, skipped: MigrationReport[]) {
      const { reports, analysis } = await this.reports(loaded, direction, 'completed');
      return this.plan(direction, stage, reports, skipped, analysis);
    }

    /**
     * Analyses migrations in the order they would run. In a shadow database (unless the settings
     * say `shadow: false`, or none can be had) after replaying the completed migrations (`from:
     * 'completed'`) or from an empty database (`'nothing'`: every migration, as `check` wants it);
     * else in capture mode, one session carrying what each changes to the ones after it (completed
     * migrations, for `check` and `status`, each against the current schema alone).
     */
    private async reports(loaded: readonly Loaded[], direction: Direction, from: 'completed' | 'nothing'): Promise<{ reports: MigrationReport[]; analysis: AnalysisInfo }> {
      const transactionsDisabled = this.config.disableTransactions === true;
      const inputs = loaded.map((m) => ({ name: m.name, file: fileOf(m.info), module: m.module, loadError: m.error }));
      const completed = (await this.completedRows()).map((r) => r.name);
      let notice: string | null = null;
      if (this.settings.shadow.mode !== 'off') {
        const shadow = await ShadowSession.open(this.knex, this.settings, this.shadowConfig);
        if (shadow instanceof ShadowSession) {
          try {
            const prepared = await shadow.prepare(from === 'completed' ? completed : [], from === 'completed' ? 'target' : 'empty');
            const notice = prepared.notice && `knex-zd: the shadow database replays the completed migrations, because ${prepared.notice}; what no migration created is not in it.`;
            return { reports: await shadow.analyse(inputs, direction), analysis: { mode: 'shadow', schema: prepared.schema, database: shadow.name, notice } };
          } finally {
            await shadow.close();
          }
        }
        notice = `knex-zd: no shadow database (${shadow.reason}); analysing in capture mode. Set zeroDowntime.shadow to a scratch database URL, or to false to silence this.`;
      }
      const independent = from === 'nothing' ? new Set(completed) : new Set<string>();
      const shared = await CaptureSession.open(this.knex);
      const out: MigrationReport[] = [];
      for (const input of inputs) {
        const session = independent.has(input.name) ? await CaptureSession.open(this.knex) : shared;
        out.push(await analyzeMigration(this.knex, input, { direction, settings: this.settings, transactionsDisabled, session }));
      }
      return { reports: out, analysis: { mode: 'capture', schema: null, database: null, notice } };
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
        prepared.set(report.name, prepareMigration(module, report.name, report.transaction, this.settings));
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
