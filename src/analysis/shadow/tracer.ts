/**
 * The shadow's tracing client: a subclass of the application's knex client under the runner
 * (which subclasses it in turn), so it sees every statement exactly as it goes to the server.
 * For each statement a migration sends it: loads the catalog facts of what the statement names
 * from the shadow at that moment; classifies it; refuses it when its effects reach beyond the
 * shadow (recorded, not run); notes the relations' storage and the locks held before; sends it;
 * then reads what PostgreSQL did: the locks it acquired (while the transaction is open), the
 * relations that got new storage (relfilenode), its duration, its error.
 */
import type { Knex } from 'knex';
import { loadRelations, type CatalogQuery } from '../catalog/load-catalog.js';
import type { SchemaModel } from '../catalog/schema-model.js';
import { statementRefs } from '../catalog/statement-refs.js';
import { MigrationClassifier } from '../classify/index.js';
import { judgeRead } from '../capture/read-policy.js';
import type { CapturedStatement, StatementTrace, TracedLock } from '../migration-types.js';
import { parseStatements, type ParsedStatement } from '../parser.js';
import { lockModeOfPgLocks, strongerLock } from '../lock-rules.js';
import { LOCK_MODES, type Finding, type LockMode, type StatementAnalysis } from '../types.js';
import { currentPlanStep, type OperationPlan } from '../../operations/plan.js';
import type { Stage } from '../../stages.js';
import type { SafeFormCursor } from '../../safe-by-default/cursor.js';
import { NeedsNoTransactionError, type ShadowObserver } from './observer.js';
import { sandboxVerdict } from './sandbox.js';

/** What one migration's run in the shadow records. */
export interface Recording {
  readonly classifier: MigrationClassifier;
  readonly statements: CapturedStatement[];
  /** The operations' plans, as they were about to run. */
  readonly plans: OperationPlan[];
  readonly emptyOperations: Array<{ name: string; stage: Stage }>;
  /** True when knex runs the migration inside a transaction of its own. */
  readonly transactional: boolean;
  /** With `safeByDefault`: counts the statements that have a safe form, to number them in the report. */
  readonly safeForms?: SafeFormCursor;
}

/** The shadow run's state, shared by every client of the shadow knex. */
export class ShadowTracer implements ShadowObserver {
  recording: Recording | null = null;
  probing = false;
  /** Statements of replayed migrations that the sandbox kept from running. */
  skippedInReplay = 0;

  constructor(
    readonly model: SchemaModel,
    /** Names of knex's (and knex-zd's) own tables, whose statements are bookkeeping, not the migration's. */
    private readonly bookkeeping: ReadonlySet<string>,
  ) {}

  observePlan(plan: OperationPlan): void {
    if (plan.steps.length === 0) this.recording?.emptyOperations.push({ name: plan.operation, stage: plan.stage });
    this.recording?.plans.push(plan);
    if (plan.safeForm) this.recording?.safeForms?.passed(plan.safeForm.ordinal);
  }

  /**
   * Adds the steps of the observed plans that never ran (a backfill's next batch over empty
   * tables), after the last statement of their operation: the plan shows what will run.
   */
  completePlans(recording: Recording): void {
    for (const plan of recording.plans) {
      const sent = new Set(recording.statements.filter((s) => s.operation?.name === plan.operation).map((s) => s.trace?.sent));
      const missing = plan.steps.filter((step) => !sent.has(step.sql));
      if (missing.length === 0) continue;
      let at = recording.statements.findLastIndex((s) => s.operation?.name === plan.operation) + 1;
      if (at === 0) at = recording.statements.length;
      for (const step of missing) {
        const parsed = parseStatements(step.sql);
        const analyses = recording.classifier.classify(parsed);
        const trace: StatementTrace = { sent: step.sql, values: step.values ?? [], ran: false, sandboxed: null, notReached: true, durationMs: null, locks: null, newStorage: null, rebuiltIndexes: null, error: null, together: parsed.length };
        const entries: CapturedStatement[] = analyses.map((analysis) => ({
          sql: analysis.sql,
          source: 'operation',
          operation: { name: plan.operation, stage: plan.stage },
          stepTransaction: step.transaction,
          statementTimeout: step.statementTimeout !== false,
          inExplicitTransaction: false,
          analysis,
          trace,
          ...(plan.safeForm ? { safeForm: plan.safeForm } : {}),
        }));
        recording.statements.splice(at, 0, ...entries);
        at += entries.length;
      }
    }
  }

  isBookkeeping(statements: readonly ParsedStatement[]): boolean {
    return statements.some((s) => s.ok && statementRefs(s.node).relations.some((r) => this.bookkeeping.has(r.table)));
  }
}

const TRACER = Symbol.for('knex-zero-downtime:shadow-tracer');

/** Attaches the tracer to a shadow knex config (knex copies it to transaction clients and clones). */
export function setTracer(config: object, tracer: ShadowTracer): void {
  Object.defineProperty(config, TRACER, { value: tracer, enumerable: true, configurable: true, writable: false });
}

function tracerOf(config: unknown): ShadowTracer | undefined {
  return (config as Record<symbol, ShadowTracer | undefined> | undefined)?.[TRACER];
}

interface PgConnection {
  query(config: { text: string; values?: unknown[] }): Promise<{ rows: Array<Record<string, unknown>> }>;
  getTransactionStatus?(): string | null;
}

interface QueryObject {
  sql: string;
  bindings?: unknown[];
  zdInternal?: boolean;
  response?: unknown;
  [key: string]: unknown;
}

/** The runner's own statements (tagged, or recognised by their fixed text before the tag existed). */
const RUNNER_SQL = /^SELECT pg_backend_pid\(\) AS pid, prev\.lock_timeout|^SELECT set_config\('lock_timeout'|^(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT) knex_zd_/;

/**
 * In one round trip: the relations a statement names (with their indexes and TOAST tables), or
 * every user relation of the shadow when `$1` is null (a statement whose reach is unknown: DO,
 * CALL, a function); and the relation locks this session holds, with their relations' names.
 */
const SNAPSHOT_SQL = `WITH named AS (
  SELECT pg_catalog.to_regclass(n) AS oid FROM unnest($1::text[]) AS n
), watched AS (
  SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE $1::text[] IS NULL AND n.nspname <> 'information_schema' AND n.nspname <> 'pg_catalog' AND n.nspname NOT LIKE 'pg\\_toast%'
  UNION SELECT oid FROM named WHERE oid IS NOT NULL
  UNION SELECT x.indexrelid FROM pg_catalog.pg_index x WHERE x.indrelid IN (SELECT oid FROM named)
  UNION SELECT c.reltoastrelid FROM pg_catalog.pg_class c WHERE c.oid IN (SELECT oid FROM named) AND c.reltoastrelid <> 0
)
SELECT
  (SELECT coalesce(json_agg(json_build_array(c.oid::int8, n.nspname, c.relname, c.relkind, c.relfilenode::int8)), '[]')
     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE (c.oid IN (SELECT oid FROM watched)
        OR c.oid IN (SELECT l.relation FROM pg_catalog.pg_locks l WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation'))
       AND n.nspname <> 'information_schema' AND n.nspname <> 'pg_catalog' AND n.nspname NOT LIKE 'pg\\_toast%') AS rels,
  (SELECT coalesce(json_agg(json_build_array(l.relation::int8, l.mode)), '[]') FROM pg_catalog.pg_locks l
     WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.granted) AS locks`;

interface Snapshot {
  readonly relations: ReadonlyMap<number, { schema: string; name: string; kind: string; filenode: number }>;
  readonly locks: ReadonlySet<string>;
}

/** A snapshot of `names` (quoted relation names) and of the session's locks; every relation when `names` is null. */
async function snapshot(query: CatalogQuery, names: readonly string[] | null): Promise<Snapshot> {
  const [row] = await query(SNAPSHOT_SQL, [names]);
  const parse = <T>(value: unknown): T => (typeof value === 'string' ? JSON.parse(value) : value) as T;
  const rels = parse<Array<[number, string, string, string, number]>>(row?.rels ?? []);
  const locks = parse<Array<[number, string]>>(row?.locks ?? []);
  return {
    relations: new Map(rels.map(([oid, schema, name, kind, filenode]) => [Number(oid), { schema, name, kind, filenode: Number(filenode) }])),
    locks: new Set(locks.map(([oid, mode]) => `${Number(oid)} ${mode}`)),
  };
}

/** Statements whose reach cannot be told from their text: watch every relation. */
const OPAQUE_KINDS = new Set(['DoStmt', 'CallStmt', 'CreateFunctionStmt', 'ExecuteStmt']);

/** The relations to watch around a statement, quoted; `null` for all. */
function watchedNames(nodes: ReadonlyArray<ParsedStatement & { ok: true }>, count: number): string[] | null {
  if (nodes.length !== count) return null;
  const names: string[] = [];
  for (const n of nodes) {
    const kind = Object.keys(n.node)[0] ?? '';
    if (OPAQUE_KINDS.has(kind)) return null;
    // A SELECT that calls a function may do anything the function does.
    if (kind === 'SelectStmt' && JSON.stringify(n.node).includes('"FuncCall"')) return null;
    const refs = statementRefs(n.node);
    for (const r of [...refs.relations, ...refs.indexes]) names.push(quoted(r.schema, r.table));
  }
  return names;
}

function quoted(schema: string | null, name: string): string {
  const q = (part: string) => `"${part.replace(/"/g, '""')}"`;
  return schema === null ? q(name) : `${q(schema)}.${q(name)}`;
}

function displayName(model: SchemaModel, schema: string, name: string): string {
  // A temporary table is named as the statements name it: without its session's pg_temp_N schema.
  return schema === model.currentSchema || schema.startsWith('pg_temp_') ? name : `${schema}.${name}`;
}

/** Locks held after a statement (only those acquired by it, when `before` is given), strongest per relation, on the shadow's user relations. */
function acquiredLocks(model: SchemaModel, before: Snapshot, after: Snapshot, onlyNew = true): TracedLock[] {
  const strongest = new Map<number, LockMode>();
  for (const entry of after.locks) {
    if (onlyNew && before.locks.has(entry)) continue;
    const [oidText, modeName] = entry.split(' ');
    const oid = Number(oidText);
    const mode = lockModeOfPgLocks(modeName);
    if (!mode || !(after.relations.has(oid) || before.relations.has(oid))) continue;
    strongest.set(oid, strongerLock(strongest.get(oid) ?? null, mode) ?? mode);
  }
  const out: TracedLock[] = [];
  for (const [oid, mode] of strongest) {
    // Named as the statement knew it (a renamed relation by its old name).
    const relation = before.relations.get(oid) ?? after.relations.get(oid)!;
    out.push({ relation: displayName(model, relation.schema, relation.name), mode, kind: relation.kind, created: !before.relations.has(oid) });
  }
  return out;
}

function newStorage(model: SchemaModel, before: Snapshot, after: Snapshot, kinds: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const [oid, relation] of after.relations) {
    const old = before.relations.get(oid);
    if (!old || !kinds.has(relation.kind) || old.filenode === 0 || old.filenode === relation.filenode) continue;
    out.push(displayName(model, relation.schema, relation.name));
  }
  return out;
}

const TABLE_KINDS = new Set(['r', 'm', 't']);
const INDEX_KINDS = new Set(['i']);
/** Statements that only read or write rows: no catalog facts to load, no storage to watch. */
const DATA_KINDS = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt', 'VariableSetStmt', 'VariableShowStmt', 'TransactionStmt']);

const REWRITE_CODES = new Set(['column-type-rewrite', 'table-rewrite', 'volatile-default']);

/**
 * The classifier's prediction beside what PostgreSQL did: the rewrite the shadow observed wins
 * (findings about a rewrite that did not happen are dropped), and a disagreement on locks or
 * rewrites is a finding, so that the classifier keeps getting better.
 */
export function reconcile(analysis: StatementAnalysis, trace: StatementTrace, model: SchemaModel): StatementAnalysis {
  if (!trace.ran || trace.error || trace.together !== 1) return analysis;
  const findings: Finding[] = [...analysis.findings];
  let rewrites = analysis.rewrites;
  const rewroteTables = trace.newStorage ?? [];
  if (trace.newStorage !== null && analysis.kind !== 'TruncateStmt') {
    const observed = rewroteTables.length > 0;
    if (analysis.rewrites && !observed) {
      rewrites = false;
      for (let i = findings.length - 1; i >= 0; i--) if (REWRITE_CODES.has(findings[i].code)) findings.splice(i, 1);
      findings.push({
        code: 'analysis-divergence',
        severity: 'info',
        message: 'The classifier predicted a table rewrite; in the shadow database PostgreSQL kept the storage, so none is reported.',
      });
    } else if (!analysis.rewrites && observed && analysis.kind !== 'CreateStmt') {
      rewrites = true;
      findings.push({
        code: 'analysis-divergence',
        severity: 'info',
        message: `In the shadow database PostgreSQL rewrote ${rewroteTables.join(', ')} (new storage), which the classifier did not predict.`,
      });
    }
  }
  if (trace.locks !== null) {
    const { missed, phantom } = lockDisagreement(analysis, trace, (relation) => {
      const dot = relation.indexOf('.');
      const name = dot < 0 ? { schema: null, table: relation } : { schema: relation.slice(0, dot), table: relation.slice(dot + 1) };
      return model.resolve(name) ?? `${name.schema ?? model.currentSchema}.${name.table}`;
    });
    if (missed.length > 0 || phantom.length > 0) {
      const parts = [
        ...(missed.length > 0 ? [`took ${missed.join(', ')}, which the classifier did not predict`] : []),
        ...(phantom.length > 0 ? [`did not take ${phantom.join(', ')}, which the classifier predicted`] : []),
      ];
      findings.push({ code: 'analysis-divergence', severity: 'info', message: `In the shadow database PostgreSQL ${parts.join('; it ')}.` });
    }
  }
  return findings.length === analysis.findings.length && rewrites === analysis.rewrites ? analysis : { ...analysis, rewrites, findings };
}

/**
 * The classifier's table locks against PostgreSQL's: locks the statement acquired that were not
 * predicted (or predicted weaker), and predicted locks its transaction did not hold afterwards
 * (a lock already held from an earlier statement of the transaction counts as held). Indexes and
 * sequences follow their table; a relation the statement created blocks nobody.
 */
export function lockDisagreement(
  analysis: Pick<StatementAnalysis, 'locks'>,
  trace: Pick<StatementTrace, 'locks' | 'held'>,
  key: (relation: string) => string,
): { missed: string[]; phantom: string[] } {
  const rank = (mode: LockMode) => LOCK_MODES.indexOf(mode);
  const tableLike = (l: TracedLock) => l.kind !== 'i' && l.kind !== 'S' && !l.created;
  const predicted = new Map(analysis.locks.map((l) => [key(l.relation), l.mode]));
  // A predicted lock on an index or a sequence (DROP INDEX, ALTER SEQUENCE) is held on that relation.
  const held = new Map<string, LockMode>();
  for (const l of trace.held ?? trace.locks ?? []) {
    const k = key(l.relation);
    held.set(k, strongerLock(held.get(k) ?? null, l.mode) ?? l.mode);
  }
  const missed = (trace.locks ?? [])
    .filter(tableLike)
    .filter((l) => {
      const p = predicted.get(key(l.relation));
      return p === undefined || rank(p) < rank(l.mode);
    })
    .map((l) => `${l.mode} on ${l.relation}`);
  const phantom = [...predicted]
    .filter(([k, mode]) => {
      const h = held.get(k);
      return h === undefined || rank(h) < rank(mode);
    })
    .map(([k, mode]) => `${mode} on ${k}`);
  return { missed, phantom };
}

type ClientClass = new (config: Knex.Config) => Knex.Client;
const classes = new WeakMap<object, ClientClass>();

/** Connections inside a transaction the runner itself opened (around one statement): not the migration's own. */
const runnerTransactions = new WeakSet<object>();

function followRunner(connection: unknown, sql: string): void {
  if (typeof connection !== 'object' || connection === null) return;
  if (/^\s*(BEGIN|START\s+TRANSACTION)\b/i.test(sql)) runnerTransactions.add(connection);
  else if (/^\s*(COMMIT|ROLLBACK|END|ABORT)\b(?!\s+TO\b)/i.test(sql)) runnerTransactions.delete(connection);
}

/** A subclass of the application's client class that traces every statement a migration sends in the shadow. */
export function tracingClientClass(base: ClientClass): ClientClass {
  const cached = classes.get(base);
  if (cached) return cached;
  const Base = base as unknown as new (config: Knex.Config) => Knex.Client & { _query(connection: unknown, obj: QueryObject): Promise<QueryObject> };
  class TracingClient extends Base {
    override async _query(connection: unknown, obj: QueryObject): Promise<QueryObject> {
      const tracer = tracerOf((this as unknown as { config: unknown }).config);
      const recording = tracer?.recording;
      if (obj.zdInternal && typeof obj.sql === 'string') followRunner(connection, obj.sql);
      if (!tracer || obj.zdInternal || typeof obj.sql !== 'string' || RUNNER_SQL.test(obj.sql)) return super._query(connection, obj);
      const parsed = parseStatements(obj.sql);
      const nodes = parsed.filter((p): p is ParsedStatement & { ok: true } => p.ok);
      if (!recording) {
        // Replaying completed migrations: untraced, but the sandbox holds all the same, and a
        // migration tried in a transaction still learns that it needs none.
        if (nodes.some((n) => !sandboxVerdict(n.node).run)) {
          tracer.skippedInReplay++;
          return { ...obj, response: emptyResponse(obj.sql) };
        }
        if (tracer.probing && (connection as PgConnection).getTransactionStatus?.() === 'T') {
          const outside = new MigrationClassifier(null).classify(parsed).find((a) => !a.transactional);
          if (outside) throw new NeedsNoTransactionError(outside.summary);
        }
        return super._query(connection, obj);
      }
      if (nodes.length === parsed.length && nodes.every((n) => n.node.TransactionStmt)) return super._query(connection, obj);
      if (tracer.isBookkeeping(parsed)) return super._query(connection, obj);
      // Plain reads run for real and answer the migration; they are not its work.
      if (nodes.length === parsed.length && nodes.length === 1 && judgeRead(nodes[0].node).read) return super._query(connection, obj);

      const pg = connection as PgConnection;
      const query: CatalogQuery = async (sql, values) => (await pg.query({ text: sql, values: [...values] })).rows;
      const inTransaction = pg.getTransactionStatus?.() === 'T';
      const inOwnTransaction = inTransaction && !runnerTransactions.has(pg);
      const dataOnly = nodes.length === parsed.length && nodes.every((n) => DATA_KINDS.has(Object.keys(n.node)[0] ?? ''));
      if (!dataOnly) {
        const relations = nodes.flatMap((n) => statementRefs(n.node).relations);
        const indexes = nodes.flatMap((n) => statementRefs(n.node).indexes);
        tracer.model.forget(relations);
        await loadRelations(query, tracer.model, relations, indexes);
      }
      const analyses = recording.classifier.classify(parsed);
      if (tracer.probing && inTransaction) {
        const outside = analyses.find((a) => !a.transactional);
        if (outside) throw new NeedsNoTransactionError(outside.summary);
      }
      const step = currentPlanStep();
      const candidate = step ? undefined : recording.safeForms?.take(obj.sql, obj.bindings)?.ordinal;
      const refused = nodes.map((n) => sandboxVerdict(n.node)).find((v) => !v.run);
      const base = { sent: obj.sql, values: obj.bindings ?? [], together: parsed.length };
      if (refused && !refused.run) {
        const trace: StatementTrace = { ...base, ran: false, sandboxed: refused.reason, durationMs: null, locks: null, newStorage: null, rebuiltIndexes: null, error: null };
        record(tracer, recording, analyses, trace, step, inOwnTransaction, candidate);
        return { ...obj, response: emptyResponse(obj.sql) };
      }
      const watched = watchedNames(nodes, parsed.length);
      const before = await snapshot(query, watched);
      const started = performance.now();
      try {
        const result = await super._query(connection, obj);
        const durationMs = Math.round((performance.now() - started) * 100) / 100;
        const status = pg.getTransactionStatus?.();
        // The same relations after (by name: what the statement created under them too).
        const after = status === 'E' ? null : await snapshot(query, watched);
        const trace: StatementTrace = {
          ...base,
          ran: true,
          sandboxed: null,
          durationMs,
          locks: after && inTransaction && status === 'T' ? acquiredLocks(tracer.model, before, after) : null,
          held: after && inTransaction && status === 'T' ? acquiredLocks(tracer.model, before, after, false) : null,
          newStorage: after ? newStorage(tracer.model, before, after, TABLE_KINDS) : null,
          rebuiltIndexes: after ? newStorage(tracer.model, before, after, INDEX_KINDS) : null,
          error: null,
        };
        record(tracer, recording, analyses, trace, step, inOwnTransaction, candidate);
        return result;
      } catch (error) {
        const durationMs = Math.round((performance.now() - started) * 100) / 100;
        const code = (error as { code?: unknown }).code;
        const trace: StatementTrace = {
          ...base,
          ran: true,
          sandboxed: null,
          durationMs,
          locks: null,
          newStorage: null,
          rebuiltIndexes: null,
          error: { sqlState: typeof code === 'string' ? code : null, message: (error as Error).message },
        };
        record(tracer, recording, analyses, trace, step, inOwnTransaction, candidate);
        throw error;
      }
    }
  }
  classes.set(base, TracingClient);
  return TracingClient;
}

function emptyResponse(sql: string): { command: string; rows: []; rowCount: number; fields: [] } {
  return { command: /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? '', rows: [], rowCount: 0, fields: [] };
}

function record(
  tracer: ShadowTracer,
  recording: Recording,
  analyses: readonly StatementAnalysis[],
  trace: StatementTrace,
  step: ReturnType<typeof currentPlanStep>,
  inTransaction: boolean,
  candidate: number | undefined,
): void {
  for (const analysis of analyses) {
    recording.statements.push({
      sql: analysis.sql,
      source: step ? 'operation' : 'knex',
      ...(step ? { operation: { name: step.plan.operation, stage: step.plan.stage } } : {}),
      stepTransaction: step?.step.transaction ?? 'inherit',
      statementTimeout: step?.step.statementTimeout !== false,
      inExplicitTransaction: inTransaction && !recording.transactional && step?.step.transaction !== 'own',
      analysis: reconcile(analysis, trace, tracer.model),
      trace,
      ...(candidate === undefined ? {} : { candidate }),
      ...(step?.plan.safeForm ? { safeForm: step.plan.safeForm } : {}),
    });
  }
}
