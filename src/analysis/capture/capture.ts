/**
 * Capture mode: run a migration's `up` or `down` against a knex instance whose client records
 * every statement instead of sending it. What the migration can see of its knex looks like the
 * real one (`client.config.client`, dialect, version); a provably side-effect-free single read
 * still reaches the target (inside a `READ ONLY` transaction that is rolled back); knex's
 * `hasTable`/`hasColumn` and the operations' catalog look-ups are answered from the plan's schema
 * model, so that what earlier pending statements create, rename or change is seen. A read that
 * depends on a pending change cannot be answered without a shadow database: capture stops there
 * with a clear error instead of guessing.
 */
import knexFactory, { type Knex } from 'knex';
import { loadRelations } from '../catalog/load-catalog.js';
import { statementRefs } from '../catalog/statement-refs.js';
import { foreignKeyIndexFindings, judgeColumnChanges, loadParser, MigrationClassifier } from '../classify/index.js';
import type { CapturedStatement } from '../migration-types.js';
import { parseStatements, type ParsedStatement } from '../parser.js';
import type { StatementAnalysis } from '../types.js';
import { withCaptureRecorder, type OperationPlan } from '../../operations/plan.js';
import { ZeroDowntimeError } from '../../errors.js';
import { processSingleton } from '../../process-singleton.js';
import type { SafeFormCursor } from '../../safe-by-default/cursor.js';
import { runSafeForm } from '../../safe-by-default/safe-form.js';
import { CaptureSession } from './capture-session.js';
import { answerIntrospection } from './knex-introspection.js';
import { judgeRead } from './read-policy.js';

/** The outcome of capturing one migration function. */
export interface Capture {
  readonly statements: readonly CapturedStatement[];
  /** The error the migration threw while being captured, if any. */
  readonly error: Error | null;
  /** Safe operations whose plan was empty (already done): they still declare a stage. */
  readonly emptyOperations: ReadonlyArray<{ readonly name: string; readonly stage: OperationPlan['stage'] }>;
}

/** A read that capture cannot answer: it depends on what an earlier pending statement changes. */
export class CaptureLimitError extends ZeroDowntimeError {
  constructor(message: string, options?: ConstructorParameters<typeof ZeroDowntimeError>[2]) {
    super('ZD_CAPTURE_LIMIT', message, options);
  }
}

interface Pending {
  sql: string;
  source: CapturedStatement['source'];
  operation?: CapturedStatement['operation'];
  stepTransaction: CapturedStatement['stepTransaction'];
  statementTimeout: boolean;
  inExplicitTransaction: boolean;
  analysis: StatementAnalysis;
  candidate?: number;
  safeForm?: CapturedStatement['safeForm'];
}

/** Collects statements, classifies each as it comes (so the next ones see its effects), and follows the migration's own transactions. */
class Recorder {
  readonly statements: Pending[] = [];
  readonly emptyOperations: Array<{ name: string; stage: OperationPlan['stage'] }> = [];
  private depth = 0;
  private readonly classifier: MigrationClassifier;
  /** The capture knex the migration runs against (a safe form's plan is built on it). */
  knex: Knex | null = null;

  constructor(
    readonly session: CaptureSession,
    /** With `safeByDefault`: counts the statements that have a safe form, and runs the plan's choices in theirs. */
    private readonly safeForms?: SafeFormCursor,
  ) {
    this.classifier = new MigrationClassifier(session.model);
  }

  /** Records SQL the migration sends (knex builders, `knex.raw`), statement by statement; `bindings` are the ones it was sent with. */
  async recordSql(sql: string, bindings: readonly unknown[] = []): Promise<void> {
    const counted = this.safeForms?.take(sql, bindings) ?? null;
    if (counted?.directive && this.knex) {
      // Its safe form is recorded in its place, as the runner will send it.
      await runSafeForm(this.knex, counted.directive);
      return;
    }
    const parsed = parseStatements(sql);
    // knex's own BEGIN/COMMIT/SAVEPOINT of `knex.transaction()`: followed, not shown.
    if (parsed.length === 1 && parsed[0].ok && parsed[0].node.TransactionStmt) {
      this.follow(parsed[0]);
      return;
    }
    for (const statement of parsed) {
      const inExplicitTransaction = this.depth > 0;
      if (statement.ok && statement.node.TransactionStmt) this.follow(statement);
      await this.push(statement, {
        source: 'knex',
        stepTransaction: 'inherit',
        statementTimeout: true,
        inExplicitTransaction,
        ...(counted ? { candidate: counted.ordinal } : {}),
      });
    }
  }

  /** Records an operation's plan, step by step. */
  async recordPlan(plan: OperationPlan): Promise<void> {
    if (plan.steps.length === 0) this.emptyOperations.push({ name: plan.operation, stage: plan.stage });
    for (const step of plan.steps) {
      // Exactly the text that will be sent: a parameterised step shows its `$n`, never a rendering of values.
      const sql = step.sql;
      for (const statement of parseStatements(sql)) {
        await this.push(statement, {
          source: 'operation',
          operation: { name: plan.operation, stage: plan.stage },
          stepTransaction: step.transaction,
          statementTimeout: step.statementTimeout !== false,
          inExplicitTransaction: this.depth > 0,
          ...(plan.safeForm ? { safeForm: plan.safeForm } : {}),
        });
      }
    }
  }

  private async push(statement: ParsedStatement, meta: Omit<Pending, 'sql' | 'analysis'>): Promise<void> {
    if (statement.ok) {
      const refs = statementRefs(statement.node);
      await loadRelations(this.session.read, this.session.model, refs.relations, refs.indexes);
    }
    const [analysis] = this.classifier.classify([statement]);
    this.statements.push({ ...meta, sql: analysis.sql, analysis });
  }

  private follow(statement: ParsedStatement & { ok: true }): void {
    const kind = String(statement.node.TransactionStmt?.kind ?? '');
    if (kind === 'TRANS_STMT_BEGIN' || kind === 'TRANS_STMT_START' || kind === 'TRANS_STMT_SAVEPOINT') this.depth++;
    else if (kind === 'TRANS_STMT_RELEASE' || kind === 'TRANS_STMT_ROLLBACK_TO') this.depth -= kind === 'TRANS_STMT_RELEASE' ? 1 : 0;
    else if (kind === 'TRANS_STMT_COMMIT' || kind === 'TRANS_STMT_ROLLBACK' || kind === 'TRANS_STMT_PREPARE') this.depth = 0;
    this.depth = Math.max(0, this.depth);
  }
}

/** Inlines `?`/`$n` bindings for display and analysis (knex's own `toString` rules). */
export function inlineBindings(sql: string, bindings: readonly unknown[]): string {
  if (bindings.length === 0) return sql;
  return literalFormatter().raw(sql, bindings as Knex.RawBinding[]).toQuery();
}

let formatter: Knex | undefined;
function literalFormatter(): Knex {
  formatter ??= knexFactory({ client: 'pg' });
  return formatter;
}

/** The response of a statement that was recorded instead of sent. */
function emptyResponse(sql: string): { command: string; rows: []; rowCount: number; fields: [] } {
  const command = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? '';
  return { command, rows: [], rowCount: 0, fields: [] };
}

type ClientClass = new (config: Knex.Config) => Knex.Client;

const captureClasses = new WeakMap<object, ClientClass>();

/**
 * The recorder of a capture, keyed by the capture knex's config object: knex's transaction
 * clients are fresh objects that share only the config with their parent, so the mode travels
 * with every knex the migration receives or opens. One map per process: the CLI bundle and the
 * package's CommonJS/ESM builds (which migrations import) must see the same captures.
 */
const recorders = processSingleton('capture-recorders', () => new WeakMap<object, Recorder>());

/** The capture session of `knex` when it is a capture knex (or a transaction of one), else `undefined`. */
export function captureSessionOf(knex: Knex): CaptureSession | undefined {
  return recorders.get(knex.client.config as object)?.session;
}

interface QueryParam {
  sql: string;
  bindings?: unknown[];
}

/** A subclass of the application's own knex client that records writes and sends only provable reads. */
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

    override async query(_connection: object, queryParam: string | QueryParam): Promise<unknown> {
      const obj = typeof queryParam === 'string' ? { sql: queryParam } : queryParam;
      const bindings = obj.bindings ?? [];
      const recorder = recorders.get(this.config)!;
      const session = recorder.session;
      const introspection = await answerIntrospection(session, obj.sql, bindings);
      if (introspection) return { ...obj, response: introspection };
      const text = inlineBindings(obj.sql, bindings);
      const parsed = parseStatements(text);
      if (parsed.length === 1 && parsed[0].ok) {
        const verdict = judgeRead(parsed[0].node);
        if (verdict.read && (await session.functionsArePure(verdict.functions))) {
          const refs = statementRefs(parsed[0].node);
          await loadRelations(session.read, session.model, refs.relations, refs.indexes);
          const changed = refs.relations.find((r) => session.model.isChanged(r));
          if (changed) throw readNeedsShadow(text, `it reads ${changed.schema ? `${changed.schema}.` : ''}${changed.table}, which an earlier pending statement creates or changes`);
          try {
            const rows = await session.read(this.positionBindings(obj.sql), this.prepBindings(bindings));
            return { ...obj, response: { command: 'SELECT', rows, rowCount: rows.length, fields: [] } };
          } catch (error) {
            const code = (error as { code?: unknown }).code;
            // Undefined table/column/function: the read depends on something not there yet.
            if (code === '42P01' || code === '42703' || code === '42883' || code === '3F000') {
              throw readNeedsShadow(text, (error as Error).message, error);
            }
            throw error;
          }
        }
      }
      await recorder.recordSql(text, bindings);
      return { ...obj, response: emptyResponse(text) };
    }
  }
  captureClasses.set(base, CaptureClient);
  return CaptureClient;
}

function readNeedsShadow(sql: string, why: string, cause?: unknown): CaptureLimitError {
  return new CaptureLimitError(
    `The migration reads the database during analysis (${sql.replace(/\s+/g, ' ').slice(0, 200)}), but ${why}: ` +
      'without a shadow database knex-zd cannot know what it would return once the earlier migrations have run. ' +
      "Let knex-zd analyse in a shadow database (zeroDowntime.shadow: 'auto', the default, needs a role that may CREATE DATABASE; " +
      "or zeroDowntime.shadow: 'postgres://…/scratch', a database it may empty and fill), or declare the migration's stage in the file.",
    { cause, details: { statement: sql } },
  );
}

/**
 * Makes a knex instance for capturing that shares `knex`'s configuration (identifier wrapping,
 * `client.config.client`, version); reads go through the session. Destroy it when done.
 */
function captureKnex(knex: Knex, recorder: Recorder): Knex {
  const config = knex.client.config as Knex.Config;
  const Capture = captureClientClass(knex.client.constructor as ClientClass);
  const instance = knexFactory({ ...config, client: Capture as never, pool: { min: 0, max: 0 } });
  const client = instance.client as Knex.Client & { config: Knex.Config; version?: string };
  // What the migration reads of its knex must be the real client's: migrations branch on it.
  client.config = { ...config, pool: { min: 0, max: 0 } };
  recorders.set(client.config, recorder);
  client.version = (knex.client as { version?: string }).version ?? (config as { version?: string }).version;
  return instance;
}

/**
 * Captures what `fn` (a migration's `up` or `down`) would send to the database, without
 * writing anything, classifying every statement against `session`'s schema model (which then
 * carries its effects to the migrations analysed after it).
 */
export async function captureMigration(knex: Knex, fn: (knex: Knex) => unknown, session?: CaptureSession, safeForms?: SafeFormCursor): Promise<Capture> {
  await loadParser();
  const recorder = new Recorder(session ?? (await CaptureSession.open(knex)), safeForms);
  const instance = captureKnex(knex, recorder);
  recorder.knex = instance;
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
  const judged = foreignKeyIndexFindings(judgeColumnChanges(recorder.statements.map((s) => s.analysis)), recorder.session.model);
  const statements = recorder.statements.map((s, i) => ({ ...s, analysis: judged[i] }));
  return { statements, error, emptyOperations: recorder.emptyOperations };
}
