import knexFactory, { type Knex } from 'knex';
import { analyzeSqlSync, loadParser } from './classify.js';
import type { CapturedStatement } from './migration-types.js';
import type { StatementAnalysis } from './types.js';
import { withCaptureRecorder, type OperationPlan } from '../operations/plan.js';

/**
 * Capture: run a migration's `up` or `down` against a knex instance whose client records
 * every statement instead of sending it. Reads (`SELECT`, `SHOW`, e.g. `knex.schema.hasColumn`)
 * still reach the real database, inside a `READ ONLY` transaction that is rolled back, so a
 * migration that looks at the catalog before deciding what to do stays analysable and
 * nothing can be written.
 */

/** The outcome of capturing one migration function. */
export interface Capture {
  readonly statements: readonly CapturedStatement[];
  /** The error the migration threw while being captured, if any. */
  readonly error: Error | null;
  /** Safe operations whose plan was empty (already done): they still declare a stage. */
  readonly emptyOperations: ReadonlyArray<{ readonly name: string; readonly stage: OperationPlan['stage'] }>;
}

interface RawStatement {
  sql: string;
  source: CapturedStatement['source'];
  operation?: CapturedStatement['operation'];
  stepTransaction: CapturedStatement['stepTransaction'];
  statementTimeout: boolean;
  inExplicitTransaction: boolean;
}

/** Collects statements and tracks the transactions the migration opens itself. */
class Recorder {
  readonly statements: RawStatement[] = [];
  readonly emptyOperations: Array<{ name: string; stage: OperationPlan['stage'] }> = [];
  private depth = 0;

  recordSql(sql: string): void {
    this.statements.push({
      sql,
      source: 'knex',
      stepTransaction: 'inherit',
      statementTimeout: true,
      inExplicitTransaction: this.depth > 0,
    });
  }

  recordPlan(plan: OperationPlan): void {
    if (plan.steps.length === 0) this.emptyOperations.push({ name: plan.operation, stage: plan.stage });
    for (const step of plan.steps) {
      this.statements.push({
        // Exactly the text that will be sent: a parameterised step shows its `$n`, never a
        // rendering of values that the server would not receive as text.
        sql: step.sql,
        source: 'operation',
        operation: { name: plan.operation, stage: plan.stage },
        stepTransaction: step.transaction,
        statementTimeout: step.statementTimeout !== false,
        inExplicitTransaction: this.depth > 0,
      });
    }
  }

  /** Follows BEGIN/COMMIT/SAVEPOINT sent by `knex.transaction()` inside the migration. */
  transactionControl(sql: string): boolean {
    const word = /^\s*(begin|start|commit|end|rollback|savepoint|release)\b(\s+to\b)?/i.exec(sql);
    if (!word) return false;
    const verb = word[1].toLowerCase();
    if (verb === 'begin' || verb === 'start' || verb === 'savepoint') this.depth++;
    else if (verb === 'rollback' && word[2]) this.depth--;
    else if (verb === 'release') this.depth--;
    else this.depth = Math.max(0, this.depth - 1);
    return true;
  }
}

/** Inlines `?`/`$n` bindings for display and analysis (knex's own `toString` rules). */
function inlineBindings(sql: string, bindings: readonly unknown[]): string {
  if (bindings.length === 0) return sql;
  const knex = literalFormatter();
  return knex.raw(sql, bindings as Knex.RawBinding[]).toQuery();
}

let formatter: Knex | undefined;
function literalFormatter(): Knex {
  formatter ??= knexFactory({ client: 'pg' });
  return formatter;
}

/**
 * Statements that look like reads run for real; the READ ONLY transaction refuses any that
 * write after all (a data-modifying WITH, SELECT … INTO), and those are recorded instead.
 */
const READ_PREFIX = /^\s*(\(\s*)*(select|with|show|values|table)\b/i;

/** SQLSTATE 25006: read_only_sql_transaction. */
const READ_ONLY_VIOLATION = '25006';

/** Response of a statement that was recorded instead of sent. */
function emptyResponse(sql: string): { command: string; rows: []; rowCount: number; fields: [] } {
  const command = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? '';
  return { command, rows: [], rowCount: 0, fields: [] };
}

type ClientClass = new (config: Knex.Config) => Knex.Client;

const captureClasses = new WeakMap<object, ClientClass>();

/**
 * The recorder and the reader of a capture, keyed by the capture knex's config object:
 * knex's transaction clients are fresh objects that share only the config with their parent.
 */
const captureState = new WeakMap<object, { recorder: Recorder; reader: Knex }>();

/** A subclass of the application's own knex client that records writes and reads read-only. */
function captureClientClass(base: ClientClass): ClientClass {
  const cached = captureClasses.get(base);
  if (cached) return cached;
  const Base = base;
  class CaptureClient extends Base {
    declare config: Knex.Config;

    override acquireConnection(): Promise<object> {
      return Promise.resolve({ __knexUid: 'knex-zd-capture' });
    }

    override releaseConnection(): Promise<void> {
      return Promise.resolve();
    }

    override async query(_connection: object, queryParam: string | { sql: string; bindings?: unknown[] }): Promise<unknown> {
      const obj = typeof queryParam === 'string' ? { sql: queryParam } : queryParam;
      const bindings = (obj.bindings ?? []);
      const { recorder, reader } = captureState.get(this.config)!;
      if (recorder.transactionControl(obj.sql)) {
        return { ...obj, response: emptyResponse(obj.sql) };
      }
      if (READ_PREFIX.test(obj.sql)) {
        try {
          const response = await readOnly(reader, this.positionBindings(obj.sql), this.prepBindings(bindings));
          return { ...obj, response };
        } catch (error) {
          if ((error as { code?: unknown }).code !== READ_ONLY_VIOLATION) throw error;
        }
      }
      recorder.recordSql(inlineBindings(obj.sql, bindings));
      return { ...obj, response: emptyResponse(obj.sql) };
    }
  }
  captureClasses.set(base, CaptureClient);
  return CaptureClient;
}

async function readOnly(reader: Knex, sql: string, bindings: unknown[]): Promise<unknown> {
  const client = reader.client;
  const connection = await client.acquireConnection();
  try {
    await connection.query('BEGIN READ ONLY');
    try {
      return await connection.query({ text: sql, values: bindings });
    } finally {
      await connection.query('ROLLBACK');
    }
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * Makes a knex instance for capturing, sharing the configuration (and identifier
 * wrapping) of `knex`; reads go through `knex` itself. Destroy it when done.
 */
function captureKnex(knex: Knex, recorder: Recorder): Knex {
  const config = knex.client.config as Knex.Config;
  const Capture = captureClientClass(knex.client.constructor as ClientClass);
  const instance = knexFactory({ ...config, client: Capture as any, pool: { min: 0, max: 0 } });
  const client = instance.client;
  captureState.set(client.config, { recorder, reader: knex });
  client.version = (knex.client).version ?? config.version;
  return instance;
}

/**
 * Captures what `fn` (a migration's `up` or `down`) would send to the database, without
 * writing anything, and classifies every statement.
 */
export async function captureMigration(
  knex: Knex,
  fn: (knex: Knex) => unknown,
): Promise<Capture> {
  await loadParser();
  const recorder = new Recorder();
  const instance = captureKnex(knex, recorder);
  let error: Error | null = null;
  try {
    await withCaptureRecorder(recorder, async () => {
      await fn(instance);
    });
  } catch (thrown) {
    error = thrown instanceof Error ? thrown : new Error(String(thrown));
  } finally {
    await instance.destroy();
  }
  return { statements: classify(recorder.statements), error, emptyOperations: recorder.emptyOperations };
}

/** Classifies captured statements; tables created earlier in the migration are exempt from unsafe findings. */
function classify(raw: readonly RawStatement[]): CapturedStatement[] {
  const newTables = new Set<string>();
  const newColumns = new Set<string>();
  const out: CapturedStatement[] = [];
  for (const statement of raw) {
    const analyses = analyzeSqlSync(statement.sql, { newTables, newColumns });
    for (const analysis of analyses) {
      rememberCreated(analysis, newTables, newColumns);
      out.push({ ...statement, sql: analysis.sql, analysis });
    }
  }
  return out;
}

function rememberCreated(analysis: StatementAnalysis, newTables: Set<string>, newColumns: Set<string>): void {
  for (const object of analysis.objects) {
    if (object.effect !== 'create') continue;
    const table = object.schema ? `${object.schema}.${object.table}` : object.table;
    if (object.column === null) {
      newTables.add(object.table);
      newTables.add(table);
    } else if (analysis.kind === 'AlterTableStmt') {
      newColumns.add(`${table}.${object.column}`);
    }
  }
}
