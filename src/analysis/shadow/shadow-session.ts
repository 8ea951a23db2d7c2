/**
 * Shadow mode: the pending migrations run for real, in plan order, in a scratch database
 * brought to the target's schema, through the same migrator and runner the real run uses, and
 * every statement is traced (see `tracer.ts`). The target is only read.
 *
 * How the shadow gets the target's schema: by replaying the completed migrations, as Prisma's
 * shadow database does, rather than copying the schema with `pg_dump`. Replay needs no client
 * binary of a matching major version (the deploy image of most apps has none, and a `pg_dump`
 * older than the server refuses to run), keeps extensions and everything the migrations create,
 * and is what the migrations themselves say the schema is. The extensions the target has that
 * no migration creates are created in the shadow too. What replay cannot reproduce (drift made by
 * hand on the target) is outside what the migrations describe; the plan still reads the target's
 * catalog for sizes.
 */
import knexFactory, { type Knex } from 'knex';
import type { MigrationModule, MigrationInput } from '../analyze-migration.js';
import { buildReport, downNeedsUp, unanalysableReport, type FoundStatements } from '../analyze-migration.js';
import { captureMigration } from '../capture/capture.js';
import { CaptureSession, readOnlyQuery } from '../capture/capture-session.js';
import { openSchemaModel } from '../catalog/load-catalog.js';
import { judgeColumnChanges, loadParser, MigrationClassifier } from '../classify/index.js';
import type { Direction, MigrationReport } from '../migration-types.js';
import type { Settings } from '../../config.js';
import { prepareMigration } from '../../migrator/prepare-migration.js';
import { StagedMigrationSource } from '../../migrator/staged-migration-source.js';
import { isNeedsNoTransaction, setShadowObserver } from './observer.js';
import { NoShadow, openShadowDatabase, type ShadowDatabase } from './shadow-database.js';
import { setTracer, ShadowTracer, tracingClientClass, type Recording } from './tracer.js';

/** What the shadow run needs of knex's migrator config. */
export interface ShadowMigratorConfig {
  readonly migrationSource: Knex.MigrationSource<unknown>;
  readonly tableName: string;
  readonly schemaName?: string;
  readonly disableTransactions?: boolean;
}

type ClientClass = new (config: Knex.Config) => Knex.Client;

/** SQLSTATEs of a replayed migration that used something an extension provides (a function, a type). */
const MISSING_OBJECT = new Set(['42883', '42704']);

/** A shadow database with the target's schema, where migrations run traced. */
export class ShadowSession {
  private constructor(
    private readonly target: Knex,
    private readonly shadow: Knex,
    private readonly database: ShadowDatabase,
    private readonly tracer: ShadowTracer,
    private readonly settings: Settings,
    private readonly migrator: ShadowMigratorConfig,
  ) {}

  /** The shadow database's name. */
  get name(): string {
    return this.database.name;
  }

  /** Opens a shadow for `target` (empty), or says why there is none. */
  static async open(target: Knex, settings: Settings, migrator: ShadowMigratorConfig): Promise<ShadowSession | NoShadow> {
    await loadParser();
    const database = await openShadowDatabase(target, settings.shadow);
    if (database instanceof NoShadow) return database;
    const targetConfig = target.client.config as Knex.Config;
    const Tracing = tracingClientClass(target.client.constructor as ClientClass);
    const { pool: _pool, ...rest } = targetConfig;
    // knex's migrator logs a failed migration; in the shadow a failure is data for the report
    // (and a first try in a transaction may fail on purpose), never output of its own.
    const quiet = () => undefined;
    const log = { warn: quiet, error: quiet, debug: quiet, deprecate: quiet };
    const config: Knex.Config = { ...rest, connection: database.connection, pool: { min: 0, max: 2 }, log };
    const shadow = knexFactory({ ...config, client: Tracing as never });
    // What a migration reads of its knex must be the real client's: migrations branch on it.
    (shadow.client as { config: Knex.Config }).config = config;
    try {
      const model = await openSchemaModel(readOnlyQuery(shadow));
      const bookkeeping = new Set([migrator.tableName, `${migrator.tableName}_lock`]);
      const tracer = new ShadowTracer(model, bookkeeping);
      setTracer(config, tracer);
      setShadowObserver(config, tracer);
      return new ShadowSession(target, shadow, database, tracer, settings, migrator);
    } catch (error) {
      await shadow.destroy();
      await database.dispose().catch(() => undefined);
      return new NoShadow(`the shadow database ${database.name} could not be used: ${(error as Error).message}`);
    }
  }

  /**
   * knex's migrator config for a run in the shadow. No FS option (directory, loadExtensions): knex
   * would then replace the migration source with its default one; the knexfile's own migrations
   * config, which the shadow knex carries, still applies.
   */
  private migratorConfig(source: Knex.MigrationSource<unknown>): Knex.MigratorConfig {
    return {
      migrationSource: source,
      tableName: this.migrator.tableName,
      ...(this.migrator.schemaName ? { schemaName: this.migrator.schemaName } : {}),
      ...(this.migrator.disableTransactions ? { disableTransactions: true } : {}),
    };
  }

  /**
   * Brings the shadow to the target's schema: replays the `completed` migrations (untraced, the
   * sandbox still on), records them with the target's batches, and creates the target's
   * extensions that are still missing.
   */
  async replay(completed: readonly string[], all: readonly string[]): Promise<void> {
    this.tracer.recording = null;
    const keep = new Set(completed);
    const hidden = new Set(all.filter((name) => !keep.has(name)));
    if (completed.length > 0) {
      const source = new StagedMigrationSource(this.migrator.migrationSource, hidden, new Map());
      try {
        await this.shadow.migrate.latest(this.migratorConfig(source));
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (typeof code !== 'string' || !MISSING_OBJECT.has(code) || (await this.createMissingExtensions()) === 0) throw error;
        await this.shadow.migrate.latest(this.migratorConfig(source));
      }
      await this.copyMigrationRows();
    }
    await this.createMissingExtensions();
  }

  private table(knex: Knex): Knex.QueryBuilder {
    const { tableName, schemaName } = this.migrator;
    return schemaName ? knex.withSchema(schemaName).from(tableName) : knex.from(tableName);
  }

  /** The shadow's `knex_migrations` gets the target's rows, so that batches (and rollbacks) are the target's. */
  private async copyMigrationRows(): Promise<void> {
    const rows = (await this.table(this.target).select('name', 'batch', 'migration_time').orderBy('id')) as Array<Record<string, unknown>>;
    await this.table(this.shadow).del();
    for (let i = 0; i < rows.length; i += 500) await this.table(this.shadow).insert(rows.slice(i, i + 500));
  }

  /** Creates in the shadow the target's extensions it lacks (in their schema, when it exists); returns how many. */
  private async createMissingExtensions(): Promise<number> {
    const list = `SELECT e.extname AS name, n.nspname AS schema FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql'`;
    const wanted = (await readOnlyQuery(this.target)(list, [])) as Array<{ name: string; schema: string }>;
    const have = new Set(((await readOnlyQuery(this.shadow)(list, [])) as Array<{ name: string }>).map((r) => r.name));
    let created = 0;
    for (const extension of wanted.filter((e) => !have.has(e.name))) {
      try {
        await this.shadow.raw('CREATE EXTENSION IF NOT EXISTS ?? WITH SCHEMA ??', [extension.name, extension.schema]);
        created++;
      } catch {
        // Its schema does not exist here, or it needs what the shadow lacks: the migrations will say.
      }
    }
    return created;
  }

  /**
   * Runs each migration in `direction`, in order, in the shadow, one batch each, through the same
   * prepared module (runner, timeouts) the real run uses, and reports what it did. A migration is
   * first tried in a transaction (unless it declares otherwise); a statement or step that cannot
   * run in one makes it run outside one, as knex-zd will run it for real.
   */
  async analyse(migrations: readonly MigrationInput[], direction: Direction): Promise<MigrationReport[]> {
    const out: MigrationReport[] = [];
    for (const migration of migrations) out.push(await this.analyseOne(migration, direction));
    return out;
  }

  private async analyseOne(migration: MigrationInput, direction: Direction): Promise<MigrationReport> {
    const unanalysable = unanalysableReport(migration, direction);
    if (unanalysable) return unanalysable;
    const module = migration.module as MigrationModule;
    const disabled = this.migrator.disableTransactions === true;
    const declared = typeof module.config?.transaction === 'boolean' ? module.config.transaction : undefined;
    let transactional = declared === undefined ? !disabled : declared && !disabled;
    let recording: Recording;
    let error: Error | null = null;
    for (;;) {
      recording = { classifier: new MigrationClassifier(this.tracer.model), statements: [], emptyOperations: [], transactional };
      this.tracer.recording = recording;
      // A migration that declares `transaction: true` runs in one whatever it holds; the run says what fails.
      this.tracer.probing = transactional && declared !== true;
      const prepared = prepareMigration(module, migration.name, transactional, this.settings);
      const source = new StagedMigrationSource(this.migrator.migrationSource, new Set(), new Map([[migration.name, prepared]]));
      try {
        const config = { ...this.migratorConfig(source), name: migration.name } as Knex.MigratorConfig;
        await (direction === 'up' ? this.shadow.migrate.up(config) : this.shadow.migrate.down(config));
        error = null;
      } catch (thrown) {
        if (isNeedsNoTransaction(thrown) && transactional) {
          transactional = false;
          continue;
        }
        const code = (thrown as { code?: unknown }).code;
        error = new Error(
          `it failed when run in the shadow database: ${(thrown as Error).message}${typeof code === 'string' ? ` (SQLSTATE ${code})` : ''}. ` +
            'It would most likely fail the same way on the target.',
          { cause: thrown },
        );
      } finally {
        this.tracer.recording = null;
        this.tracer.probing = false;
      }
      break;
    }
    const judged = judgeColumnChanges(recording.statements.map((s) => s.analysis));
    const found: FoundStatements = { statements: recording.statements.map((s, i) => ({ ...s, analysis: judged[i] })), error, emptyOperations: recording.emptyOperations };
    // The stage of a revert is the inverse of its `up`'s, which capture tells cheaply.
    const up: FoundStatements =
      direction === 'down' && downNeedsUp(migration, this.settings) && module.up
        ? await captureMigration(this.target, module.up, await CaptureSession.open(this.target))
        : found;
    return buildReport(migration, direction, found, up, { settings: this.settings, transactionsDisabled: disabled, transaction: transactional, analysedBy: 'shadow' });
  }

  /** Closes the shadow's connections and drops it when it is a temporary one. */
  async close(): Promise<void> {
    await this.shadow.destroy();
    await this.database.dispose();
  }
}
