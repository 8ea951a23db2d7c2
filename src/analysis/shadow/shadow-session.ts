/**
 * Shadow mode: the pending migrations run for real, in plan order, in a scratch database
 * brought to the target's schema, through the same migrator and runner the real run uses, and
 * every statement is traced (see `tracer.ts`). The target is only read.
 *
 * How the shadow gets the target's schema, in order of preference:
 * - `pg_dump --schema-only` of the target, when a `pg_dump` of the server's major version or
 *   newer is at hand: the schema exactly as it is, including what no migration created (a
 *   schema loaded from a dump before the project adopted migrations, objects made by hand,
 *   extensions);
 * - otherwise, replaying the completed migrations (as Prisma's shadow database does): needs no
 *   client binary (a deploy image often has none, and an older `pg_dump` refuses a newer server),
 *   gives what the migrations say the schema is, and then creates the target's extensions that
 *   no migration created. The plan says which way was used.
 * `check` always replays every migration from an empty database.
 */
import knexFactory, { type Knex } from 'knex';
import type { MigrationModule, MigrationInput } from '../analyze-migration.js';
import { buildReport, downNeedsUp, unanalysableReport, type FoundStatements } from '../analyze-migration.js';
import { captureMigration } from '../capture/capture.js';
import { CaptureSession, readOnlyQuery } from '../capture/capture-session.js';
import { openSchemaModel } from '../catalog/load-catalog.js';
import { foreignKeyIndexFindings, judgeColumnChanges, loadParser, MigrationClassifier } from '../classify/index.js';
import type { Direction, MigrationReport } from '../migration-types.js';
import type { Settings } from '../../config.js';
import { prepareMigration } from '../../migrator/prepare-migration.js';
import { StagedMigrationSource } from '../../migrator/staged-migration-source.js';
import { pinningOf } from '../../runner/pooling.js';
import { SafeFormCursor } from '../../safe-by-default/cursor.js';
import type { SafeFormDirective } from '../../safe-by-default/directive.js';
import { isNeedsNoTransaction, setShadowObserver } from './observer.js';
import { dumpSchema, pgDumpFor, restoreSchema } from './schema-copy.js';
import { driverOf, emptyDatabase, NoShadow, openShadowDatabase, settingsOf, withClient, type PgClient, type ShadowDatabase } from './shadow-database.js';
import { setTracer, ShadowTracer, tracingClientClass, type Recording } from './tracer.js';

/** What the shadow run needs of knex's migrator config. */
export interface ShadowMigratorConfig {
  readonly migrationSource: Knex.MigrationSource<unknown>;
  readonly tableName: string;
  readonly schemaName?: string;
  readonly disableTransactions?: boolean;
  /** The extensions the migration source lists (knex's `loadExtensions`). */
  readonly loadExtensions?: readonly string[];
}

type ClientClass = new (config: Knex.Config) => Knex.Client;

/** How long one migration may run in the shadow: 5 minutes, or `KNEX_ZD_SHADOW_MIGRATION_TIMEOUT` (milliseconds). */
export function shadowMigrationLimitMs(): number {
  const given = Number(process.env.KNEX_ZD_SHADOW_MIGRATION_TIMEOUT);
  return Number.isFinite(given) && given > 0 ? given : 5 * 60_000;
}

/** A migration source whose list is read once (the files do not change during an analysis). */
function listedOnce<T>(source: Knex.MigrationSource<T>): Knex.MigrationSource<T> {
  const lists = new Map<string, Promise<T[]>>();
  return {
    getMigrations(loadExtensions: readonly string[]) {
      const key = loadExtensions.join('\u0000');
      let list = lists.get(key);
      if (!list) lists.set(key, (list = Promise.resolve(source.getMigrations([...loadExtensions]))));
      return list;
    },
    getMigrationName: (migration: T) => source.getMigrationName(migration),
    getMigration: (migration: T) => source.getMigration(migration),
  };
}

/** The SQLSTATE of an error or of the first cause that has one. */
function sqlStateIn(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 8; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

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
  static async open(target: Knex, settings: Settings, given: ShadowMigratorConfig): Promise<ShadowSession | NoShadow> {
    await loadParser();
    // Each migration is one knex batch here, and knex lists the source for each: list it once.
    const migrator = { ...given, migrationSource: listedOnce(given.migrationSource) };
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
   * Brings the shadow to the target's schema (see the top of this file): a copy of it when
   * `pg_dump` can make one and the `completed` migrations are the target's, else a replay of
   * `completed`. Records the completed migrations with the target's batches. Says how.
   */
  async prepare(completed: readonly string[], from: 'target' | 'empty'): Promise<{ schema: 'pg_dump' | 'replay'; notice: string | null }> {
    this.tracer.recording = null;
    let notice: string | null = null;
    if (from === 'target') {
      const copied = await this.copySchema();
      if (copied === true) {
        await this.copyMigrationRows();
        return { schema: 'pg_dump', notice: null };
      }
      notice = copied;
    }
    await this.replay(completed);
    return { schema: 'replay', notice };
  }

  /** The target's schema through `pg_dump`: `true`, or why not (the shadow is left empty). */
  private async copySchema(): Promise<true | string> {
    const Client = driverOf(this.target);
    const settings = settingsOf(this.target);
    if (!Client || !settings) return 'the connection cannot be handed to pg_dump';
    // pg_dump sets session settings before its snapshot: through transaction pooling they would
    // stay on server connections other clients then use.
    if (!(await this.targetIsPinned())) return 'the target connection goes through transaction pooling, where pg_dump would leave its session settings behind';
    const major = Math.floor(this.tracer.model.serverVersionNum / 10_000);
    const dump = await pgDumpFor(major);
    if (!dump) return `no pg_dump of PostgreSQL ${major} or newer was found (install the PostgreSQL ${major} client, or set KNEX_ZD_PG_DUMP)`;
    let text: string | null;
    try {
      text = await dumpSchema(dump, settings, this.settings.timeouts.lock ?? 5_000);
    } catch (error) {
      return `pg_dump failed: ${(error as Error).message.split('\n').slice(0, 3).join(' ')}`;
    }
    if (text === null) return 'the connection (a password function or SSL certificates) cannot be handed to pg_dump';
    const failures = await withClient(Client, this.database.connection, (client) => restoreSchema(text, async (sql) => void (await client.query(sql))));
    if (failures.length === 0) return true;
    await withClient(Client, this.database.connection, (client) => emptyDatabase(client));
    return `the copy of the schema failed in the shadow (${failures[0]}${failures.length > 1 ? `, and ${failures.length - 1} more` : ''})`;
  }

  /** True when a connection of the target keeps one session (direct, or session pooling). */
  private async targetIsPinned(): Promise<boolean> {
    const client = this.target.client as Knex.Client & {
      acquireConnection(): Promise<unknown>;
      releaseConnection(connection: unknown): Promise<void>;
      _query(connection: unknown, obj: unknown): Promise<never>;
    };
    const connection = await client.acquireConnection();
    try {
      return (await pinningOf(client, (c, o) => client._query(c, o), connection)).pinned;
    } catch {
      return false;
    } finally {
      await client.releaseConnection(connection);
    }
  }

  /** Replays `completed` migrations in the shadow one by one (untraced; sandbox on; each tried in a transaction first). */
  private async replay(completed: readonly string[]): Promise<void> {
    if (completed.length > 0) {
      const infos = await this.migrator.migrationSource.getMigrations([...(this.migrator.loadExtensions ?? [])]);
      const byName = new Map(infos.map((info) => [this.migrator.migrationSource.getMigrationName(info), info]));
      for (const name of completed) {
        const info = byName.get(name);
        if (info === undefined) throw new Error(`${name} is recorded as completed but its file is missing: the shadow cannot be brought to the target's schema.`);
        const module = (await this.migrator.migrationSource.getMigration(info)) as MigrationModule;
        const { error } = await this.runInShadow({ name, module }, 'up');
        if (!error) continue;
        const code = sqlStateIn(error);
        if (code && MISSING_OBJECT.has(code) && (await this.createMissingExtensions()) > 0) {
          const retry = await this.runInShadow({ name, module }, 'up');
          if (!retry.error) continue;
        }
        throw new Error(`Replaying the completed migration ${name} in the shadow database failed: ${error.message}`, { cause: error });
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
    const { tableName, schemaName } = this.migrator;
    const exists = await (schemaName ? this.target.schema.withSchema(schemaName) : this.target.schema).hasTable(tableName);
    if (!exists) return;
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
  async analyse(
    migrations: readonly MigrationInput[],
    direction: Direction,
    options: {
      readonly afterEach?: (report: MigrationReport) => Promise<void>;
      /** With `safeByDefault`: per migration, the statements to run in their safe form. */
      readonly safeForms?: ReadonlyMap<string, readonly SafeFormDirective[]>;
    } = {},
  ): Promise<MigrationReport[]> {
    const out: MigrationReport[] = [];
    for (const migration of migrations) {
      const report = await this.analyseOne(migration, direction, options.safeForms?.get(migration.name) ?? []);
      out.push(report);
      await options.afterEach?.(report);
    }
    return out;
  }

  /**
   * Runs `fn` with a connection of its own on the shadow database (verify prepares queries on
   * it): whatever it leaves in its session ends with it.
   */
  async withConnection<T>(fn: (client: PgClient) => Promise<T>): Promise<T> {
    const Client = driverOf(this.target);
    if (!Client) throw new Error('The knexfile connection is not a node-postgres connection.');
    return withClient(Client, this.database.connection, fn);
  }

  private async analyseOne(migration: MigrationInput, direction: Direction, safeForms: readonly SafeFormDirective[]): Promise<MigrationReport> {
    const unanalysable = unanalysableReport(migration, direction);
    if (unanalysable) return unanalysable;
    const module = migration.module as MigrationModule;
    const { recording, error, transactional } = await this.runInShadow({ name: migration.name, module }, direction, true, safeForms);
    const judged = foreignKeyIndexFindings(judgeColumnChanges(recording.statements.map((s) => s.analysis)), this.tracer.model);
    const found: FoundStatements = { statements: recording.statements.map((s, i) => ({ ...s, analysis: judged[i] })), error, emptyOperations: recording.emptyOperations };
    // The stage of a revert is the inverse of its `up`'s, which capture tells cheaply.
    const up: FoundStatements =
      direction === 'down' && downNeedsUp(migration, this.settings) && module.up
        ? await captureMigration(this.target, module.up, await CaptureSession.open(this.target))
        : found;
    const transactionsDisabled = this.migrator.disableTransactions === true;
    return buildReport(migration, direction, found, up, { settings: this.settings, transactionsDisabled, transaction: transactional, analysedBy: 'shadow', safeForms });
  }

  /**
   * Runs one migration in the shadow as one batch, through the prepared module the real run
   * uses. It is first tried in a transaction (unless it declares otherwise): a statement or a
   * step that cannot run in one makes it run outside one, as knex-zd will run it for real.
   */
  private async runInShadow(
    migration: { name: string; module: MigrationModule },
    direction: Direction,
    traced = false,
    safeForms: readonly SafeFormDirective[] = [],
  ): Promise<{ recording: Recording; error: Error | null; transactional: boolean }> {
    const { module } = migration;
    const disabled = this.migrator.disableTransactions === true;
    const declared = typeof module.config?.transaction === 'boolean' ? module.config.transaction : undefined;
    // A migration with a statement in its safe form runs outside a transaction, as it will for real.
    let transactional = safeForms.length > 0 ? false : declared === undefined ? !disabled : declared && !disabled;
    // knex refuses a module without `down`; the missing-down check reports it, the shadow only needs `up`.
    const runnable: MigrationModule = typeof module.down === 'function' ? module : { ...module, down: () => undefined };
    for (;;) {
      const recording: Recording = {
        classifier: new MigrationClassifier(this.tracer.model),
        statements: [],
        plans: [],
        emptyOperations: [],
        transactional,
        ...(this.settings.safeByDefault ? { safeForms: new SafeFormCursor() } : {}),
      };
      this.tracer.recording = traced ? recording : null;
      // A migration that declares `transaction: true` runs in one whatever it holds; the run says what fails.
      this.tracer.probing = transactional && declared !== true;
      const prepared = prepareMigration(runnable, migration.name, transactional, this.settings, safeForms);
      const source = new StagedMigrationSource(this.migrator.migrationSource, new Set(), new Map([[migration.name, prepared]]));
      try {
        const config = { ...this.migratorConfig(source), name: migration.name } as Knex.MigratorConfig;
        await this.withinLimit(migration.name, () => (direction === 'up' ? this.shadow.migrate.up(config) : this.shadow.migrate.down(config)));
        if (traced) this.tracer.completePlans(recording);
        return { recording, error: null, transactional };
      } catch (thrown) {
        if (isNeedsNoTransaction(thrown) && transactional) {
          transactional = false;
          continue;
        }
        const code = sqlStateIn(thrown);
        const error = new Error(
          `it failed when run in the shadow database: ${(thrown as Error).message}${code ? ` (SQLSTATE ${code})` : ''}. ` +
            'It would most likely fail the same way on the target.',
          { cause: thrown },
        );
        return { recording, error, transactional };
      } finally {
        this.tracer.recording = null;
        this.tracer.probing = false;
      }
    }
  }

  /**
   * Runs one migration in the shadow, cancelling its statements when it takes longer than
   * {@link shadowMigrationLimitMs}: the shadow holds the schema, not the rows, and a migration
   * that waits for data (a loop until a row appears) would wait forever there.
   */
  private async withinLimit<T>(name: string, run: () => Promise<T>): Promise<T> {
    const limit = shadowMigrationLimitMs();
    let timer: NodeJS.Timeout | undefined;
    let expired = false;
    const running = run();
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        expired = true;
        // Cancels this analysis's own statements in its own shadow database, nothing else.
        void this.withConnection((client) =>
          client.query('SELECT pg_catalog.pg_cancel_backend(pid) FROM pg_catalog.pg_stat_activity WHERE datname = current_database() AND pid <> pg_catalog.pg_backend_pid()'),
        ).catch(() => undefined);
        reject(
          new Error(
            `${name} did not finish within ${Math.round(limit / 1000)} s in the shadow database, which holds the target's schema but not its rows: a migration that waits for data cannot be analysed there.`,
          ),
        );
      }, limit);
    });
    try {
      return await Promise.race([running, watchdog]);
    } finally {
      clearTimeout(timer);
      // The cancelled run ends (and rolls back) before the next migration starts.
      if (expired) await running.catch(() => undefined);
    }
  }

  /** Closes the shadow's connections and drops it when it is a temporary one. */
  async close(): Promise<void> {
    await this.shadow.destroy();
    await this.database.dispose();
  }
}
