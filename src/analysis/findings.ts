/**
 * Per-statement findings: what is dangerous and why, in one sentence, and the safe
 * operation of this package written out with the statement's own names, ready to paste.
 */
import type { Finding } from './types.js';

/** Stable ids of the findings that statement analysis reports. */
export const STATEMENT_FINDING_CODES = Object.freeze([
  'parse-error',
  'unclassified-statement',
  'create-index-blocking',
  'drop-index-blocking',
  'foreign-key-validating',
  'check-constraint-validating',
  'set-not-null-scan',
  'unique-constraint-blocking',
  'column-type-rewrite',
  'volatile-default',
  'rename-table',
  'rename-column',
  'table-rewrite',
] as const);

/** One of {@link STATEMENT_FINDING_CODES}. */
export type StatementFindingCode = (typeof STATEMENT_FINDING_CODES)[number];

/** A table as a finding names it: how the SQL wrote it, and its parts. */
export interface TableName {
  /** `schema.table` when the SQL qualifies it, else `table`. */
  readonly display: string;
  readonly schema: string | null;
  readonly table: string;
}

const BATCH_SIZE = 10_000;

/** A JavaScript string literal for `value`, in single quotes. */
export function jsString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

function jsArray(values: readonly string[]): string {
  return `[${values.map(jsString).join(', ')}]`;
}

function jsOptions(entries: readonly (readonly [string, string | boolean | undefined | null])[]): string {
  const parts = entries
    .filter(([, value]) => value !== undefined && value !== null && value !== false)
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? jsString(value) : String(value)}`);
  return parts.length === 0 ? '' : `, { ${parts.join(', ')} }`;
}

/** The `addNullableColumn` call for a column of `table`, as a hint writes it. */
export function addNullableColumnCall(table: TableName, column: string, type: string): string {
  return `await addNullableColumn(knex, ${jsString(table.table)}, ${jsString(column)}, ${jsString(type)}${schemaOption(table)});`;
}

/** `, { schema: 'app' }` when the SQL qualified the table, else nothing. */
function schemaOption(table: TableName): string {
  return jsOptions([['schema', table.schema]]);
}

function batchOptions(table: TableName): string {
  return table.schema ? `, { batchSize: ${BATCH_SIZE}, schema: ${jsString(table.schema)} }` : `, { batchSize: ${BATCH_SIZE} }`;
}

/** An object key: bare when it is a plain identifier, else a string literal. */
function jsKey(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : jsString(name);
}

function quoted(name: string): string {
  return `"${name}"`;
}

/** The parser's message for input that does not parse. */
export function parseErrorFinding(message: string): Finding {
  return {
    code: 'parse-error',
    severity: 'error',
    message: `PostgreSQL cannot parse this statement (${message}), so nothing about its locks or stage is known.`,
  };
}

/** A statement kind the analyser does not know. */
export function unclassifiedFinding(kind: string): Finding {
  return {
    code: 'unclassified-statement',
    severity: 'warning',
    message: `knex-zero-downtime does not know what a ${kind} takes or changes, so it cannot call it safe; review its locks by hand and declare the migration's stage.`,
  };
}

/** `CREATE INDEX` without `CONCURRENTLY` on a table in use. */
export function createIndexBlocking(input: {
  table: TableName;
  columns: readonly string[];
  name: string | null;
  unique: boolean;
  where: string | null;
}): Finding {
  const { table } = input;
  return {
    code: 'create-index-blocking',
    severity: 'error',
    message: `Adding an index non-concurrently blocks writes to ${qualified(table)} for as long as the build takes (CREATE INDEX holds a SHARE lock on the table).`,
    hint: `await addIndexConcurrently(knex, ${jsString(table.table)}, ${jsArray(input.columns)}${jsOptions([
      ['name', input.name],
      ['unique', input.unique],
      ['where', input.where],
      ['schema', table.schema],
    ])});`,
  };
}

/** `DROP INDEX` without `CONCURRENTLY`. */
export function dropIndexBlocking(input: { index: string; schema: string | null }): Finding {
  return {
    code: 'drop-index-blocking',
    severity: 'warning',
    message: `Dropping an index non-concurrently takes an ACCESS EXCLUSIVE lock on its table, so reads and writes queue behind any long-running query until the drop is done.`,
    hint: `await dropIndexConcurrently(knex, ${jsString(input.index)}${jsOptions([['schema', input.schema]])});`,
  };
}

/** `ADD FOREIGN KEY` without `NOT VALID` on a table in use. */
export function foreignKeyValidating(input: {
  table: TableName;
  columns: readonly string[];
  refTable: TableName;
  refColumns: readonly string[];
  name: string | null;
  onDelete: string | null;
}): Finding {
  const refColumns = input.refColumns.length > 0 ? jsArray(input.refColumns) : `[/* primary key of ${input.refTable.display} */]`;
  return {
    code: 'foreign-key-validating',
    severity: 'error',
    message: `Adding a foreign key checks every existing row of ${qualified(input.table)} while blocking writes to both ${qualified(input.table)} and ${qualified(input.refTable)} (SHARE ROW EXCLUSIVE on each); add it NOT VALID, then validate it in a separate transaction.`,
    // The referenced table is qualified only when it lives in another schema than the table.
    hint: `await addForeignKey(knex, ${jsString(input.table.table)}, ${jsArray(input.columns)}, ${jsString(
      input.refTable.schema === input.table.schema ? input.refTable.table : input.refTable.display,
    )}, ${refColumns}${jsOptions([
      ['name', input.name],
      ['onDelete', input.onDelete],
      ['schema', input.table.schema],
    ])});`,
  };
}

/** `ADD CHECK` without `NOT VALID` on a table in use. */
export function checkConstraintValidating(input: { table: TableName; name: string; expression: string }): Finding {
  return {
    code: 'check-constraint-validating',
    severity: 'error',
    message: `Adding a CHECK constraint blocks reads and writes to ${qualified(input.table)} (ACCESS EXCLUSIVE) while every row is checked; add it NOT VALID, then validate it in a separate transaction.`,
    hint: `await addCheckConstraint(knex, ${jsString(input.table.table)}, ${jsString(input.name)}, ${jsString(input.expression)}${schemaOption(input.table)});`,
  };
}

/** `SET NOT NULL` (or a NOT NULL constraint) on a table in use. */
export function setNotNullScan(input: { table: TableName; column: string }): Finding {
  return {
    code: 'set-not-null-scan',
    severity: 'error',
    message: `Setting NOT NULL on ${qualified(input.table)}.${quoted(input.column)} blocks reads and writes (ACCESS EXCLUSIVE) while every row is checked; a validated CHECK (… IS NOT NULL) constraint lets PostgreSQL skip that scan.`,
    hint: `await setNotNull(knex, ${jsString(input.table.table)}, ${jsString(input.column)}${schemaOption(input.table)});`,
  };
}

/** `ADD UNIQUE` / `ADD PRIMARY KEY` / `ADD EXCLUDE` that builds its index under the table lock. */
export function uniqueConstraintBlocking(input: {
  table: TableName;
  columns: readonly string[];
  name: string | null;
  kind: 'UNIQUE' | 'PRIMARY KEY' | 'EXCLUDE';
}): Finding {
  const { table, columns, name, kind } = input;
  const what = kind === 'UNIQUE' ? 'a UNIQUE constraint' : kind === 'PRIMARY KEY' ? 'a primary key' : 'an exclusion constraint';
  const message = `Adding ${what} builds its index while blocking reads and writes to ${qualified(table)} (ACCESS EXCLUSIVE) for the whole build.`;
  if (kind === 'UNIQUE') {
    return {
      code: 'unique-constraint-blocking',
      severity: 'error',
      message,
      hint: `await addUniqueConstraint(knex, ${jsString(table.table)}, ${jsArray(columns)}${jsOptions([
        ['name', name],
        ['schema', table.schema],
      ])});`,
    };
  }
  if (kind === 'PRIMARY KEY') {
    const indexName = name ?? `${table.table}_pkey`;
    const rawSql = `ALTER TABLE ${qualified(table)} ADD CONSTRAINT ${quoteIdent(indexName)} PRIMARY KEY USING INDEX ${quoteIdent(indexName)}`;
    return {
      code: 'unique-constraint-blocking',
      severity: 'error',
      message,
      hint: [
        `await addIndexConcurrently(knex, ${jsString(table.table)}, ${jsArray(columns)}${jsOptions([
          ['name', indexName],
          ['unique', true],
          ['schema', table.schema],
        ])});`,
        `await knex.raw(${jsString(rawSql)});`,
      ].join('\n'),
    };
  }
  return {
    code: 'unique-constraint-blocking',
    severity: 'error',
    message: `${message} An exclusion constraint cannot use an index built concurrently; add it while the table is new or during a maintenance window.`,
  };
}

/** `ALTER COLUMN … TYPE` that rewrites the table. */
export function columnTypeRewrite(input: { table: TableName; column: string; type: string; knownOldType: boolean }): Finding {
  const { table, column, type } = input;
  const temporary = `${column}_new`;
  const why = input.knownOldType
    ? 'rewrites the whole table and its indexes'
    : 'rewrites the whole table and its indexes unless the old type is binary-coercible to it (e.g. varchar(n) → text)';
  return {
    code: 'column-type-rewrite',
    severity: 'error',
    message: `Changing the type of ${qualified(table)}.${quoted(column)} to ${type} ${why}, blocking reads and writes (ACCESS EXCLUSIVE) until it is done; add a new column, backfill it, and switch the code over instead.`,
    hint: [
      `await addNullableColumn(knex, ${jsString(table.table)}, ${jsString(temporary)}, ${jsString(type)}${schemaOption(table)});`,
      `await backfill(knex, ${jsString(table.table)}, { ${jsKey(temporary)}: knex.ref(${jsString(column)}) }${batchOptions(table)});`,
      `// then, once the code writes both columns: await saferRenameColumnPart1(knex, ${jsString(table.table)}, ${jsString(temporary)}, ${jsString(column)}${schemaOption(table)});`,
    ].join('\n'),
  };
}

/** `ADD COLUMN` with a volatile default (or `serial` / identity), which rewrites the table. */
export function volatileDefault(input: { table: TableName; column: string; type: string; expression: string }): Finding {
  const { table, column, type, expression } = input;
  const alter = `ALTER TABLE ${qualified(table)} ALTER COLUMN ${quoteIdent(column)} SET DEFAULT ${expression}`;
  return {
    code: 'volatile-default',
    severity: 'error',
    message: `Adding ${qualified(table)}.${quoted(column)} with the volatile default ${expression} computes a value for every row, rewriting the whole table while blocking reads and writes (ACCESS EXCLUSIVE).`,
    hint: [
      `await addNullableColumn(knex, ${jsString(table.table)}, ${jsString(column)}, ${jsString(type)}${schemaOption(table)});`,
      `await knex.raw(${jsString(alter)});`,
      `await backfill(knex, ${jsString(table.table)}, { ${jsKey(column)}: knex.raw(${jsString(expression)}) }${batchOptions(table)});`,
    ].join('\n'),
  };
}

/** `ALTER TABLE … RENAME TO`. */
export function renameTable(input: { table: TableName; to: string }): Finding {
  const { table, to } = input;
  return {
    code: 'rename-table',
    severity: 'error',
    message: `Renaming ${qualified(table)} to ${quoted(to)} breaks the old code that still queries ${quoted(table.table)} while the deploy rolls out.`,
    hint: [
      `await saferRenameTablePart1(knex, ${jsString(table.table)}, ${jsString(to)}${schemaOption(table)}); // pre-deploy`,
      `await saferRenameTablePart2(knex, ${jsString(table.table)}, ${jsString(to)}${schemaOption(table)}); // post-deploy, in a later migration`,
    ].join('\n'),
  };
}

/** `ALTER TABLE … RENAME COLUMN`. */
export function renameColumn(input: { table: TableName; from: string; to: string }): Finding {
  const { table, from, to } = input;
  return {
    code: 'rename-column',
    severity: 'error',
    message: `Renaming ${qualified(table)}.${quoted(from)} to ${quoted(to)} breaks the old code that still reads and writes ${quoted(from)} while the deploy rolls out.`,
    hint: [
      `await saferRenameColumnPart1(knex, ${jsString(table.table)}, ${jsString(from)}, ${jsString(to)}${schemaOption(table)}); // pre-deploy`,
      `await saferRenameColumnPart2(knex, ${jsString(table.table)}, ${jsString(from)}, ${jsString(to)}${schemaOption(table)}); // post-deploy, in a later migration`,
    ].join('\n'),
  };
}

/** Any other full-table rewrite: SET TABLESPACE, SET LOGGED, VACUUM FULL, CLUSTER, a stored generated column… */
export function tableRewrite(input: { relation: string | null; what: string; hint: string }): Finding {
  const target = input.relation === null ? 'every table it touches' : input.relation;
  return {
    code: 'table-rewrite',
    severity: 'error',
    message: `${input.what} rewrites ${target} and its indexes while blocking reads and writes (ACCESS EXCLUSIVE) until it is done.`,
    hint: input.hint,
  };
}

/** `"schema"."table"` for SQL written into a hint. */
function qualified(table: TableName): string {
  return table.schema ? `${quoteIdent(table.schema)}.${quoteIdent(table.table)}` : quoteIdent(table.table);
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
