import type { Knex } from 'knex';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, MigrationError } from '../errors.js';
import { quoteIdentifier, quoteQualified } from '../identifiers.js';
import type { Stage } from '../stages.js';
import { installRunner } from '../runner/step-executor.js';
import { shadowObserverOf } from '../analysis/shadow/observer.js';
import { primaryKey, resolveSchema, type SchemaOption } from './catalog.js';
import { activeCaptureRecorder, executeStep, type OperationPlan, type PlanStep } from './plan.js';
import { buildStatement, expressionSql, valueSql, type RawSql, type SqlPiece, type SqlValue } from './sql.js';

/** Progress of a {@link backfill}, reported after each batch. */
export interface BackfillProgress {
  readonly batches: number;
  /** Rows looked at so far (in key order). */
  readonly scanned: number;
  /** Rows changed so far (rows that already had the values are not written again). */
  readonly updated: number;
  /** The last primary key value done; a rerun starts over but skips rows already done. */
  readonly lastKey: unknown;
}

/** Options of {@link backfill}. */
export interface BackfillOptions extends SchemaOption {
  /** Rows per batch (each batch is its own short transaction). @default 1000 */
  readonly batchSize?: number;
  /** Only rows matching this SQL predicate: a string or `knex.raw`, parsed as one expression (its rendering, in parentheses, is what runs). */
  readonly where?: string | RawSql;
  /** Pause between batches, to leave room for replication and vacuum. @default 0 */
  readonly pauseMs?: number;
  /** Called after each batch. */
  readonly onProgress?: (progress: BackfillProgress) => void;
  /** The stage the plan declares (a backfill is data work; it follows the schema change it serves). @default 'pre-deploy' */
  readonly stage?: Stage;
}

/** @default 1000 */
export const DEFAULT_BACKFILL_BATCH_SIZE = 1000;

/** The statements of a backfill: the first batch, and the batch after a given key. @internal */
export async function backfillStatements(
  schema: string,
  table: string,
  key: string,
  set: Readonly<Record<string, SqlValue>>,
  options: Pick<BackfillOptions, 'where' | 'batchSize'>,
): Promise<{ first: string; next: string }> {
  const columns = Object.keys(set);
  if (columns.length === 0) throw new ConfigError('backfill: `set` names no column.');
  const batchSize = options.batchSize ?? DEFAULT_BACKFILL_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError(`backfill: batchSize must be a whole number of at least 1; got ${String(batchSize)}.`);
  const pieces: SqlPiece[] = [];
  for (const c of columns) pieces.push(await valueSql(set[c], `backfill value of ${JSON.stringify(c)}`));
  if (options.where !== undefined) pieces.push(await expressionSql(options.where, 'where'));
  const target = quoteQualified(schema, table);
  const k = quoteIdentifier(key, 'column');
  const current = columns.map((c) => `zd_row.${quoteIdentifier(c, 'column')}`).join(', ');
  const build = (lowerBound: boolean) => (sql: readonly string[]) => {
    const values = sql.slice(0, columns.length);
    const where = options.where === undefined ? '' : ` AND ${sql[columns.length]}`;
    const assignments = columns.map((c, i) => `${quoteIdentifier(c, 'column')} = ${values[i]}`).join(', ');
    return (
      `WITH batch AS (SELECT ${k} AS zd_key FROM ${target}${lowerBound ? ` WHERE ${k} > $1` : ''} ORDER BY ${k} LIMIT ${batchSize}),\n` +
      // = ANY(ARRAY(…)) keeps the update on the primary key index; a join with the CTE may be
      // planned as a hash join over the whole table, making every batch a full scan.
      `updated AS (UPDATE ${target} AS zd_row SET ${assignments} WHERE zd_row.${k} = ANY (ARRAY(SELECT zd_key FROM batch))` +
      `${where} AND ROW(${current}) IS DISTINCT FROM ROW(${values.join(', ')}) RETURNING 1)\n` +
      'SELECT (SELECT max(zd_key) FROM batch) AS last_key, (SELECT count(*) FROM batch) AS scanned, (SELECT count(*) FROM updated) AS updated'
    );
  };
  return { first: buildStatement(pieces, build(false)), next: buildStatement(pieces, build(true)) };
}

/**
 * Fills columns of existing rows in batches by primary key, outside any transaction, so that
 * no batch holds row locks for long and replication keeps up. Each batch is one statement:
 * it takes the next `batchSize` keys, and updates those that match `where` and do not have the
 * values yet, so a rerun after a crash skips the work already done. Needs a one-column primary key.
 *
 * SQL (one per batch, the first without `WHERE "id" > $1`; `$1`, the last key done, is sent as a value):
 * `WITH batch AS (SELECT "id" AS zd_key FROM "s"."t" WHERE "id" > $1 ORDER BY "id" LIMIT 1000),
 *  updated AS (UPDATE "s"."t" AS zd_row SET "c" = <value> WHERE zd_row."id" = ANY (ARRAY(SELECT zd_key FROM batch))
 *  AND (<where>) AND ROW(zd_row."c") IS DISTINCT FROM ROW(<value>) RETURNING 1) SELECT …`
 *
 * A value is a JavaScript value (a literal) or `knex.raw(...)` (SQL, parsed as one expression);
 * `where` is SQL, parsed as one expression.
 *
 * Reverse: none (data); write the inverse backfill if one exists.
 * @example
 * await backfill(knex, 'users', { active: true }, { where: 'active IS NULL', batchSize: 5000, pauseMs: 50,
 *   onProgress: (p) => console.log(`${p.updated} rows`) });
 */
export async function backfill(
  knex: Knex,
  table: string,
  set: Readonly<Record<string, SqlValue>>,
  options: BackfillOptions = {},
): Promise<OperationPlan> {
  const operation = 'backfill';
  installRunner();
  const schema = await resolveSchema(knex, options.schema);
  const keys = await primaryKey(knex, schema, table);
  if (keys.length !== 1) {
    throw new MigrationError(
      `backfill: ${quoteQualified(schema, table)} has ${keys.length === 0 ? 'no primary key' : `a primary key of ${keys.length} columns`}; batches are cut by a one-column primary key. Add one, or write the batches by hand.`,
      { details: { operation, table } },
    );
  }
  const key = keys[0];
  const { first, next } = await backfillStatements(schema, table, key, set, options);
  const step = (sql: string, values?: unknown[]): PlanStep => ({
    sql,
    ...(values ? { values } : {}),
    transaction: 'none',
    description: `repeated: batches of ${options.batchSize ?? DEFAULT_BACKFILL_BATCH_SIZE} rows in ${quoteIdentifier(key)} order, each its own transaction, until no row is left`,
  });
  const template: OperationPlan = {
    operation,
    stage: options.stage ?? 'pre-deploy',
    steps: [step(first), step(next)],
    reverse: '// none: a backfill changes data only',
  };
  const recorder = activeCaptureRecorder();
  if (recorder) {
    await recorder.recordPlan(template);
    return template;
  }
  shadowObserverOf(knex)?.observePlan(template);
  let progress: BackfillProgress = { batches: 0, scanned: 0, updated: 0, lastKey: null };
  for (;;) {
    const batch = progress.batches === 0 ? step(first) : step(next, [progress.lastKey]);
    const result = (await executeStep(knex, batch, template)) as { rows: { last_key: unknown; scanned: string; updated: string }[] };
    const row = result.rows[0];
    const scanned = Number(row.scanned);
    if (scanned === 0) break;
    progress = {
      batches: progress.batches + 1,
      scanned: progress.scanned + scanned,
      updated: progress.updated + Number(row.updated),
      lastKey: row.last_key,
    };
    options.onProgress?.(progress);
    if (options.pauseMs) await sleep(options.pauseMs);
  }
  return template;
}
