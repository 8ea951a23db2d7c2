import type { Knex } from 'knex';
import { ConfigError, MigrationError } from '../errors.js';
import { assertIdentifier, generatedName, quoteIdentifier, quoteQualified } from '../identifiers.js';
import { indexInfo, resolveSchema, type SchemaOption } from './catalog.js';
import type { OperationPlan, PlanStep } from './plan.js';
import { runPlan } from './run.js';
import { notOursError, sameIndex } from './ownership.js';
import { buildStatement, expressionSql, isRaw, parser, type RawSql, type SqlPiece } from './sql.js';

/** Options of {@link addIndexConcurrently}. */
export interface AddIndexOptions extends SchemaOption {
  /** The index name. @default `<table>_<columns>_index` (or `_unique`), cut to 63 bytes with a hash */
  readonly name?: string;
  /** A unique index. @default false */
  readonly unique?: boolean;
  /** A partial index: the SQL predicate, a string or `knex.raw` parsed as one expression (its rendering, in parentheses, is what runs). */
  readonly where?: string | RawSql;
  /** The access method, e.g. `'gin'`. @default 'btree' (PostgreSQL's default, not written out) */
  readonly using?: string;
}

/** The default index name, as knex names them: `<table>_<col1>_<col2>_index` / `_unique`. */
export function defaultIndexName(table: string, columns: readonly (string | RawSql)[], unique: boolean): string {
  const parts = columns.map((c) => (isRaw(c) ? 'expr' : c));
  return generatedName([table, ...parts, unique ? 'unique' : 'index']);
}

async function columnList(columns: string | readonly (string | RawSql)[]): Promise<{ list: (string | RawSql)[]; pieces: SqlPiece[] }> {
  const list = typeof columns === 'string' ? [columns] : [...columns];
  if (list.length === 0) throw new ConfigError('An index needs at least one column.');
  const pieces: SqlPiece[] = [];
  // A column name is quoted; a knex.raw element is SQL, one expression, parenthesised as the grammar wants.
  for (const c of list) pieces.push(isRaw(c) ? await expressionSql(c, 'index expression') : quoteIdentifier(c, 'column'));
  return { list, pieces };
}

/** The statement that drops an INVALID leftover of a failed concurrent build, before building again. */
export function dropInvalidIndexStep(schema: string, name: string): PlanStep {
  return {
    sql: `DROP INDEX CONCURRENTLY IF EXISTS ${quoteQualified(schema, name)}`,
    transaction: 'none',
    statementTimeout: false,
    description: 'drop the INVALID index left by an earlier, interrupted CREATE INDEX CONCURRENTLY',
  };
}

/** Builds the steps of a concurrent index build from what the catalog shows. @internal */
export async function concurrentIndexSteps(
  knex: Knex,
  operation: string,
  schema: string,
  table: string,
  name: string,
  createSql: string,
): Promise<PlanStep[]> {
  const existing = await indexInfo(knex, schema, name);
  if (existing && existing.table !== table) {
    throw new MigrationError(`${operation}: an index ${quoteQualified(schema, name)} already exists on another table (${existing.table}); choose another { name }.`, {
      details: { operation, index: name },
    });
  }
  if (existing) {
    // Taken as done, or dropped as the leftover of an interrupted build, only when it is the
    // index this operation builds: a user's index of the same name is never touched.
    await parser();
    if (!sameIndex(existing.definition, createSql)) {
      throw notOursError({
        operation,
        what: existing.valid ? 'an index' : 'an INVALID index',
        schema,
        name,
        table,
        definition: existing.definition,
        expected: createSql.replace(' CONCURRENTLY', ''),
        option: `Choose another name with { name: '…' }, or drop or rename that index yourself if it is no longer wanted.`,
      });
    }
  }
  if (existing?.valid) return [];
  const build: PlanStep = {
    sql: createSql,
    transaction: 'none',
    statementTimeout: false,
    description: 'build the index without blocking writes (SHARE UPDATE EXCLUSIVE lock)',
    // A build that times out waiting for old transactions leaves an INVALID index under this name.
    cleanupBeforeRetry: dropInvalidIndexStep(schema, name).sql,
  };
  // Never IF NOT EXISTS: it would silently keep an INVALID index that no query can use.
  return existing ? [dropInvalidIndexStep(schema, name), build] : [build];
}

/**
 * Builds an index without blocking writes (pre-deploy; a unique index is post-deploy, as it
 * tightens what writes are accepted). Runs outside any transaction. An INVALID index of the
 * same name and definition, left by an earlier run that failed or was killed, is dropped
 * concurrently first; a valid one means the work is done. An index of that name with another
 * definition is a user's: the operation refuses and touches nothing.
 *
 * `where` and `knex.raw` elements of `columns` are SQL, each parsed as one expression.
 *
 * SQL: `[DROP INDEX CONCURRENTLY IF EXISTS "s"."name";] CREATE [UNIQUE] INDEX CONCURRENTLY "name" ON "s"."t" [USING m] ("c1", "c2") [WHERE …]`
 *
 * Reverse: `dropIndexConcurrently(knex, name)`.
 * @example
 * await addIndexConcurrently(knex, 'orders', ['customer_id', 'created_at']);
 * await addIndexConcurrently(knex, 'users', ['email'], { unique: true, where: 'deleted_at IS NULL' });
 */
export async function addIndexConcurrently(
  knex: Knex,
  table: string,
  columns: string | readonly (string | RawSql)[],
  options: AddIndexOptions = {},
): Promise<OperationPlan> {
  const operation = 'addIndexConcurrently';
  const schema = await resolveSchema(knex, options.schema);
  const { list, pieces } = await columnList(columns);
  const unique = options.unique === true;
  const name = options.name ?? defaultIndexName(table, list, unique);
  assertIdentifier(name, 'index name');
  let using = '';
  if (options.using !== undefined) {
    if (!/^[a-z_][a-z0-9_]*$/i.test(options.using)) throw new ConfigError(`addIndexConcurrently: using must be an access method name such as 'gin'; got ${JSON.stringify(options.using)}.`);
    using = ` USING ${quoteIdentifier(options.using.toLowerCase())}`;
  }
  if (options.where !== undefined) pieces.push(await expressionSql(options.where, 'where'));
  const createSql = buildStatement(pieces, (sql) => {
    const cols = sql.slice(0, list.length).join(', ');
    const where = options.where === undefined ? '' : ` WHERE ${sql[list.length]}`;
    return `CREATE ${unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${quoteIdentifier(name)} ON ${quoteQualified(schema, table)}${using} (${cols})${where}`;
  });
  const steps = await concurrentIndexSteps(knex, operation, schema, table, name, createSql);
  return runPlan(knex, {
    operation,
    stage: unique ? 'post-deploy' : 'pre-deploy',
    steps,
    reverse: `await dropIndexConcurrently(knex, ${JSON.stringify(name)});`,
  });
}

/**
 * Drops an index without blocking reads or writes (post-deploy: running code may rely on it
 * for speed, or on its uniqueness). Runs outside any transaction. Refuses an index that backs a
 * constraint (drop the constraint instead). Skipped when the index is gone.
 *
 * SQL: `DROP INDEX CONCURRENTLY "s"."name"`
 *
 * Reverse: the index's definition, printed in the plan's `reverse` (built concurrently by `addIndexConcurrently`).
 * @example
 * export const config = { stage: 'post-deploy' };
 * export async function up(knex) { await dropIndexConcurrently(knex, 'orders_legacy_index'); }
 */
export async function dropIndexConcurrently(knex: Knex, indexName: string, options: SchemaOption = {}): Promise<OperationPlan> {
  const operation = 'dropIndexConcurrently';
  const schema = await resolveSchema(knex, options.schema);
  assertIdentifier(indexName, 'index name');
  const existing = await indexInfo(knex, schema, indexName);
  if (existing?.constraint) {
    throw new MigrationError(
      `dropIndexConcurrently: ${quoteQualified(schema, indexName)} backs a ${existing.constraint === 'p' ? 'primary key' : existing.constraint === 'u' ? 'unique' : 'exclusion'} constraint; drop the constraint instead:\n  await knex.raw('ALTER TABLE ?? DROP CONSTRAINT ??', [${JSON.stringify(existing.table)}, ${JSON.stringify(indexName)}]);`,
      { details: { operation, index: indexName } },
    );
  }
  const steps: PlanStep[] = existing
    ? [{ sql: `DROP INDEX CONCURRENTLY ${quoteQualified(schema, indexName)}`, transaction: 'none', statementTimeout: false }]
    : [];
  return runPlan(knex, {
    operation,
    stage: 'post-deploy',
    steps,
    reverse: existing ? `// ${existing.definition.replace(' INDEX ', ' INDEX CONCURRENTLY ')}` : '// the index did not exist',
  });
}
