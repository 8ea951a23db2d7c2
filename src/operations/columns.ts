import type { Knex } from 'knex';
import { MigrationError, UnsafeOperationError } from '../errors.js';
import { quoteIdentifier, quoteQualified } from '../identifiers.js';
import { columnInfo, isTableKind, relationKind, resolveSchema, type SchemaOption } from './catalog.js';
import type { OperationPlan } from './plan.js';
import { runPlan } from './run.js';
import { anyVolatile, buildStatement, expressionSql, isRaw, literal, typeSql, type RawSql, type SqlPiece, type SqlValue } from './sql.js';

async function requireTable(knex: Knex, operation: string, schema: string, table: string): Promise<void> {
  if (!isTableKind(await relationKind(knex, schema, table))) {
    throw new MigrationError(`${operation}: the table ${quoteQualified(schema, table)} does not exist.`, { details: { operation, schema, table } });
  }
}

/**
 * Adds a nullable column without a default (pre-deploy): a catalog-only change, instant on any
 * table size (a brief ACCESS EXCLUSIVE lock, bounded by `lock_timeout`). Skipped when the column exists.
 *
 * SQL: `ALTER TABLE "s"."t" ADD COLUMN "c" <type>`
 *
 * The type is SQL: a string or `knex.raw(...)` parsed as exactly one type name (`'varchar(255)'`,
 * `'jsonb'`, `'timestamp with time zone'`); the parser's rendering of it is what runs.
 *
 * Reverse: `dropColumn(knex, table, column)`.
 * @example
 * await addNullableColumn(knex, 'users', 'nickname', 'text');
 */
export async function addNullableColumn(knex: Knex, table: string, column: string, type: string | RawSql, options: SchemaOption = {}): Promise<OperationPlan> {
  const operation = 'addNullableColumn';
  const schema = await resolveSchema(knex, options.schema);
  const typeName = await typeSql(type);
  const sql = buildStatement([typeName], ([t]) => `ALTER TABLE ${quoteQualified(schema, table)} ADD COLUMN ${quoteIdentifier(column)} ${t}`);
  await requireTable(knex, operation, schema, table);
  const existing = await columnInfo(knex, schema, table, column);
  const steps: OperationPlan['steps'] = existing ? [] : [{ sql, transaction: 'inherit' }];
  return runPlan(knex, { operation, stage: 'pre-deploy', steps, reverse: `await dropColumn(knex, ${JSON.stringify(table)}, ${JSON.stringify(column)});` });
}

/** Options of {@link addColumnWithDefault}. */
export interface AddColumnWithDefaultOptions extends SchemaOption {
  /** Also declare the column NOT NULL: free with a non-null constant default (no scan). @default false */
  readonly notNull?: boolean;
}

/**
 * Adds a column with a default (pre-deploy). On PostgreSQL 11+ a non-volatile default is
 * stored once in the catalog and the table is not rewritten: instant on any size. A volatile
 * default (`gen_random_uuid()`, `random()`, `clock_timestamp()`, `nextval(…)`) would rewrite
 * the whole table under ACCESS EXCLUSIVE, so it is refused with the safe sequence written out.
 *
 * SQL: `ALTER TABLE "s"."t" ADD COLUMN "c" <type> DEFAULT <value> [NOT NULL]`
 *
 * The type is SQL, parsed as one type name. The default is a JavaScript value (quoted as a
 * literal) or `knex.raw('now()')`: SQL, parsed as one expression (its rendering, in parentheses,
 * is what runs) and checked for volatile functions.
 *
 * Reverse: `dropColumn(knex, table, column)`.
 * @example
 * await addColumnWithDefault(knex, 'users', 'active', 'boolean', true, { notNull: true });
 */
export async function addColumnWithDefault(
  knex: Knex,
  table: string,
  column: string,
  type: string | RawSql,
  defaultValue: SqlValue,
  options: AddColumnWithDefaultOptions = {},
): Promise<OperationPlan> {
  const operation = 'addColumnWithDefault';
  const schema = await resolveSchema(knex, options.schema);
  const typeName = await typeSql(type);
  const typeText = typeName.sql;
  let defaultPiece: SqlPiece;
  if (isRaw(defaultValue)) {
    const expression = await expressionSql(defaultValue, 'default');
    const volatile = await anyVolatile(knex, expression.functions);
    if (volatile.length > 0) {
      const t = JSON.stringify(table);
      const c = JSON.stringify(column);
      const setDefault = `ALTER TABLE ${quoteQualified(schema, table)} ALTER COLUMN ${quoteIdentifier(column)} SET DEFAULT (${expression.sql})`;
      throw new UnsafeOperationError(
        `addColumnWithDefault(${t}, ${c}) with the volatile default ${expression.sql} would rewrite the whole table under an ACCESS EXCLUSIVE lock, blocking reads and writes while every row gets its own value (${volatile.join(', ')} is VOLATILE).\n` +
          'Add the column empty, give new rows the default, fill old rows in batches, then tighten:\n' +
          `  await addNullableColumn(knex, ${t}, ${c}, ${JSON.stringify(typeText)});\n` +
          `  await knex.raw(${JSON.stringify(setDefault.replace(/\?/g, '\\?'))});\n` +
          `  await backfill(knex, ${t}, { ${c}: knex.raw(${JSON.stringify(expression.sql)}) }, { where: knex.raw('?? IS NULL', [${c}]) });\n` +
          (options.notNull ? `  await setNotNull(knex, ${t}, ${c}); // in a post-deploy migration\n` : ''),
        { details: { operation, table, column, default: expression.sql, volatile } },
      );
    }
    defaultPiece = expression;
  } else {
    defaultPiece = literal(defaultValue);
  }
  const notNull = options.notNull === true ? ' NOT NULL' : '';
  const sql = buildStatement([typeName, defaultPiece], ([t, d]) => `ALTER TABLE ${quoteQualified(schema, table)} ADD COLUMN ${quoteIdentifier(column)} ${t} DEFAULT ${d}${notNull}`);
  await requireTable(knex, operation, schema, table);
  const existing = await columnInfo(knex, schema, table, column);
  const steps: OperationPlan['steps'] = existing ? [] : [{ sql, transaction: 'inherit' }];
  return runPlan(knex, { operation, stage: 'pre-deploy', steps, reverse: `await dropColumn(knex, ${JSON.stringify(table)}, ${JSON.stringify(column)});` });
}

/**
 * Prepares a column drop (pre-deploy): drops its NOT NULL so that the new code, which no
 * longer writes the column, can insert while the column still exists. Skipped when it is nullable.
 *
 * SQL: `ALTER TABLE "s"."t" ALTER COLUMN "c" DROP NOT NULL`
 * @example
 * await prepareDropColumn(knex, 'users', 'legacy_flag'); // pre-deploy, then dropColumn post-deploy
 */
export async function prepareDropColumn(knex: Knex, table: string, column: string, options: SchemaOption = {}): Promise<OperationPlan> {
  const operation = 'prepareDropColumn';
  const schema = await resolveSchema(knex, options.schema);
  const info = await columnInfo(knex, schema, table, column);
  const steps: OperationPlan['steps'] =
    info?.notNull && info.default === null
      ? [{ sql: `ALTER TABLE ${quoteQualified(schema, table)} ALTER COLUMN ${quoteIdentifier(column)} DROP NOT NULL`, transaction: 'inherit' }]
      : [];
  return runPlan(knex, { operation, stage: 'pre-deploy', steps, reverse: `await setNotNull(knex, ${JSON.stringify(table)}, ${JSON.stringify(column)});` });
}

/**
 * Drops a column (post-deploy, once no running code reads or writes it; see
 * {@link prepareDropColumn} for the pre-deploy step). Catalog-only: the space is reclaimed by
 * later writes. Skipped when the column is gone.
 *
 * SQL: `ALTER TABLE "s"."t" DROP COLUMN "c"`
 *
 * Reverse: none that restores the data; `addNullableColumn(knex, table, column, type)` restores the shape.
 * @example
 * export const config = { stage: 'post-deploy' };
 * export async function up(knex) { await dropColumn(knex, 'users', 'legacy_flag'); }
 */
export async function dropColumn(knex: Knex, table: string, column: string, options: SchemaOption = {}): Promise<OperationPlan> {
  const operation = 'dropColumn';
  const schema = await resolveSchema(knex, options.schema);
  const info = await columnInfo(knex, schema, table, column);
  const steps: OperationPlan['steps'] = info
    ? [{ sql: `ALTER TABLE ${quoteQualified(schema, table)} DROP COLUMN ${quoteIdentifier(column)}`, transaction: 'inherit' }]
    : [];
  return runPlan(knex, {
    operation,
    stage: 'post-deploy',
    steps,
    reverse: `await addNullableColumn(knex, ${JSON.stringify(table)}, ${JSON.stringify(column)}, ${JSON.stringify(info?.type ?? 'text')}); // the data is gone`,
  });
}
