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
  'not-null-without-default',
  'reindex-blocking',
  'detach-partition-blocking',
  'refresh-materialized-view-blocking',
  'lock-table',
  'whole-table-update',
  'whole-table-delete',
  'truncate-cascade',
  'domain-constraint-validating',
  'primary-key-nullable-scan',
  'foreign-key-without-index',
] as const);

/** One of {@link STATEMENT_FINDING_CODES}. */
export type StatementFindingCode = (typeof STATEMENT_FINDING_CODES)[number];

/** One line per statement finding: what it finds (the rule's description in SARIF output and the README). */
export const STATEMENT_FINDING_DESCRIPTIONS: Readonly<Record<StatementFindingCode, string>> = Object.freeze({
  'parse-error': 'a statement PostgreSQL cannot parse',
  'unclassified-statement': 'a statement knex-zd cannot classify, so it cannot call it safe',
  'create-index-blocking': 'CREATE INDEX without CONCURRENTLY on an existing table (blocks writes for the build)',
  'drop-index-blocking': 'DROP INDEX without CONCURRENTLY (ACCESS EXCLUSIVE on its table)',
  'foreign-key-validating': 'ADD FOREIGN KEY without NOT VALID (blocks writes to both tables while it scans)',
  'check-constraint-validating': 'ADD CHECK without NOT VALID (blocks reads and writes while it scans)',
  'set-not-null-scan': 'SET NOT NULL by a full scan under ACCESS EXCLUSIVE',
  'unique-constraint-blocking': 'ADD UNIQUE / PRIMARY KEY / EXCLUDE that builds its index under ACCESS EXCLUSIVE',
  'column-type-rewrite': 'ALTER COLUMN TYPE that rewrites the table',
  'volatile-default': 'ADD COLUMN with a volatile default (rewrites the table)',
  'rename-table': 'RENAME of a table outside the safer operation (breaks the old code)',
  'rename-column': 'RENAME COLUMN outside the safer operation (breaks the old code)',
  'table-rewrite': 'a statement that rewrites a table under ACCESS EXCLUSIVE',
  'not-null-without-default': 'ADD COLUMN … NOT NULL without a default on an existing table (fails on rows, and on the old code\'s INSERTs)',
  'reindex-blocking': 'REINDEX without CONCURRENTLY (blocks writes, and reads through the rebuilt indexes)',
  'detach-partition-blocking': 'DETACH PARTITION without CONCURRENTLY (ACCESS EXCLUSIVE on the parent table)',
  'refresh-materialized-view-blocking': 'REFRESH MATERIALIZED VIEW without CONCURRENTLY (blocks reads of the view)',
  'lock-table': 'an explicit LOCK TABLE in a mode that blocks writes, held to the end of the transaction',
  'whole-table-update': 'an UPDATE of a whole existing table in one statement (every row stays locked until it commits)',
  'whole-table-delete': 'a DELETE of a whole existing table in one statement (every row stays locked until it commits)',
  'truncate-cascade': 'TRUNCATE … CASCADE (also empties every table with a foreign key to it)',
  'domain-constraint-validating': 'ALTER DOMAIN … ADD CONSTRAINT without NOT VALID (checks every column of the domain under a SHARE lock)',
  'primary-key-nullable-scan': 'ADD PRIMARY KEY USING INDEX on nullable columns (an implicit SET NOT NULL scans the table under ACCESS EXCLUSIVE)',
  'foreign-key-without-index': 'a foreign key whose referencing columns no index leads with (every delete or key update of the referenced table scans this one)',
});

/**
 * Findings whose danger lasts as long as the statement reads or rewrites its table: on a table
 * below `checks.smallTable` rows they become notes. The others (renames, drops, failures, lock
 * queues) hurt whatever the size.
 */
export const SIZE_BOUND_FINDING_CODES: ReadonlySet<string> = new Set<StatementFindingCode>([
  'create-index-blocking',
  'foreign-key-validating',
  'check-constraint-validating',
  'set-not-null-scan',
  'unique-constraint-blocking',
  'column-type-rewrite',
  'volatile-default',
  'table-rewrite',
  'reindex-blocking',
  'refresh-materialized-view-blocking',
  'whole-table-update',
  'whole-table-delete',
  'primary-key-nullable-scan',
]);

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

/** `ADD COLUMN … NOT NULL` without a default on a table in use. */
export function notNullWithoutDefault(input: { table: TableName; column: string; type: string }): Finding {
  const { table, column, type } = input;
  return {
    code: 'not-null-without-default',
    severity: 'error',
    message: `Adding ${qualified(table)}.${quoted(column)} as NOT NULL without a default fails as soon as the table has a row (column "${column}" contains null values), and once it exists, every INSERT of the old code, which does not name it, fails too.`,
    hint: [
      addNullableColumnCall(table, column, type),
      `await backfill(knex, ${jsString(table.table)}, { ${jsKey(column)}: '<value>' }${batchOptions(table)});`,
      `// then, in a post-deploy migration, once the new code writes it on every insert:`,
      `await setNotNull(knex, ${jsString(table.table)}, ${jsString(column)}${schemaOption(table)});`,
      `// or, when every row may start with the same value (no rewrite, the old code's INSERTs get the default):`,
      `await addColumnWithDefault(knex, ${jsString(table.table)}, ${jsString(column)}, ${jsString(type)}, '<value>', { notNull: true${table.schema ? `, schema: ${jsString(table.schema)}` : ''} });`,
    ].join('\n'),
  };
}

/** `REINDEX` without `CONCURRENTLY`. */
export function reindexBlocking(input: { kind: string; target: string }): Finding {
  const { kind, target } = input;
  const what = `REINDEX ${kind}${target ? ` ${target}` : ''}`;
  const message =
    `${what} without CONCURRENTLY blocks writes to ${kind === 'INDEX' || kind === 'TABLE' ? 'the table' : 'each table it covers'} (SHARE) and locks each index it rebuilds ACCESS EXCLUSIVE, ` +
    'which blocks every query the planner considers that index for (in practice reads too) until the rebuild ends.';
  if (kind === 'SYSTEM') {
    return { code: 'reindex-blocking', severity: 'error', message, hint: '// REINDEX SYSTEM cannot run concurrently: run it in a maintenance window, outside the migrations.' };
  }
  return {
    code: 'reindex-blocking',
    severity: 'error',
    message,
    hint: `await knex.raw(${jsString(`REINDEX ${kind} CONCURRENTLY ${target}`)}); // PostgreSQL 12+; outside a transaction, which knex-zd arranges`,
  };
}

/** `ALTER TABLE … DETACH PARTITION` without `CONCURRENTLY`. */
export function detachPartitionBlocking(input: { parent: TableName; partition: TableName }): Finding {
  const { parent, partition } = input;
  const concurrent = `ALTER TABLE ${qualified(parent)} DETACH PARTITION ${qualified(partition)} CONCURRENTLY`;
  return {
    code: 'detach-partition-blocking',
    severity: 'warning',
    message: `Detaching ${qualified(partition)} without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the partitioned table ${qualified(parent)}: every query on it queues behind the detach while it waits for the queries already running there.`,
    hint: `await knex.raw(${jsString(concurrent)}); // PostgreSQL 14+; outside a transaction (knex-zd arranges it); not possible while the table has a DEFAULT partition`,
  };
}

/** `REFRESH MATERIALIZED VIEW` without `CONCURRENTLY`. */
export function refreshBlocking(input: { view: TableName }): Finding {
  const { view } = input;
  return {
    code: 'refresh-materialized-view-blocking',
    severity: 'error',
    message: `REFRESH MATERIALIZED VIEW ${qualified(view)} without CONCURRENTLY blocks every read of the view (ACCESS EXCLUSIVE) while its query runs again.`,
    hint: [
      `// CONCURRENTLY needs a unique index on plain columns of the view that covers every row (no WHERE); once:`,
      `await addIndexConcurrently(knex, ${jsString(view.table)}, ['<unique column>'], { unique: true${view.schema ? `, schema: ${jsString(view.schema)}` : ''} });`,
      `await knex.raw(${jsString(`REFRESH MATERIALIZED VIEW CONCURRENTLY ${qualified(view)}`)}); // blocks writes to the view only, never its reads`,
    ].join('\n'),
  };
}

/** An explicit `LOCK TABLE` in a mode that blocks writes. */
export function lockTable(input: { tables: readonly TableName[]; mode: string }): Finding {
  const names = input.tables.map(qualified).join(', ');
  const blocks = input.mode === 'ACCESS EXCLUSIVE' ? 'reads and writes' : 'writes';
  return {
    code: 'lock-table',
    severity: 'error',
    message: `LOCK TABLE ${names} IN ${input.mode} MODE blocks ${blocks} until the transaction ends, through every statement after it, and while it waits for its lock every later query on the table queues behind it.`,
    hint: [
      `// Delete the LOCK TABLE: each statement takes the lock it needs, under knex-zd's lock_timeout and retries.`,
      `// To keep other writers off the rows you change, lock those rows only:`,
      `await knex(${jsString(input.tables[0]?.table ?? '<table>')}).where('<column>', '<value>').forUpdate().select('<key column>');`,
    ].join('\n'),
  };
}

/** An UPDATE or DELETE of a whole existing table in one statement. */
export function wholeTableChange(input: {
  verb: 'UPDATE' | 'DELETE';
  table: TableName;
  /** `column → SQL expression` of an UPDATE's SET list, when it could be read. */
  set: readonly (readonly [string, string])[];
  /** The WHERE clause's text, or null. */
  where: string | null;
}): Finding {
  const { verb, table, set, where } = input;
  const scope = where === null ? 'every row (it has no WHERE)' : `every row that WHERE ${where} matches (nothing in it bounds how many)`;
  const message = `${verb} of ${qualified(table)} changes ${scope} in one statement: each changed row stays locked until its transaction commits, so every concurrent write to those rows waits for the whole statement; it also leaves as many dead rows, and a burst of WAL that replicas must replay.`;
  if (verb === 'UPDATE') {
    const values = set.length > 0 ? set.map(([column, expression]) => `${jsKey(column)}: ${jsValue(expression)}`).join(', ') : "'<column>': '<value>'";
    const options = [`batchSize: ${BATCH_SIZE}`, ...(where === null ? [] : [`where: ${jsString(where)}`]), ...(table.schema ? [`schema: ${jsString(table.schema)}`] : [])];
    return {
      code: 'whole-table-update',
      severity: 'error',
      message,
      hint: [
        `// batches by primary key, each its own short transaction, resumable (run the migration with config.transaction = false):`,
        `await backfill(knex, ${jsString(table.table)}, { ${values} }, { ${options.join(', ')} });`,
      ].join('\n'),
    };
  }
  const batch = `DELETE FROM ${qualified(table)} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${qualified(table)}${where === null ? '' : ` WHERE ${where}`} LIMIT ${BATCH_SIZE}))`;
  return {
    code: 'whole-table-delete',
    severity: 'error',
    message,
    hint: [
      `// in batches, each its own short transaction (export const config = { transaction: false };):`,
      `for (;;) {`,
      `  const { rowCount } = await knex.raw(${jsString(batch)});`,
      `  if (rowCount === 0) break;`,
      `}`,
    ].join('\n'),
  };
}

/** `TRUNCATE … CASCADE`. */
export function truncateCascade(input: { tables: readonly TableName[] }): Finding {
  const names = input.tables.map(qualified).join(', ');
  const first = input.tables[0] ? qualified(input.tables[0]) : '"<table>"';
  return {
    code: 'truncate-cascade',
    severity: 'error',
    message: `TRUNCATE ${names} CASCADE also empties every table with a foreign key to ${input.tables.length === 1 ? 'it' : 'them'} (and the tables referencing those), whatever they hold: the database decides which at run time, not this migration.`,
    hint: [
      `// Name every table to empty; without CASCADE, PostgreSQL refuses instead of emptying a table you did not list.`,
      `// The tables with a foreign key to it: SELECT conrelid::regclass FROM pg_constraint WHERE contype = 'f' AND confrelid = '${first.replace(/'/g, "''")}'::regclass;`,
      `await knex.raw(${jsString(`TRUNCATE ${names}, "<referencing table>"`)});`,
    ].join('\n'),
  };
}

/** `ALTER DOMAIN … ADD CONSTRAINT` (or `SET NOT NULL`) that validates every column of the domain. */
export function domainConstraintValidating(input: { domain: readonly string[]; name: string | null; check: string | null }): Finding {
  const domain = input.domain.map(quoteIdent).join('.');
  const name = input.name ?? `${input.domain.at(-1) ?? 'domain'}_check`;
  const check = input.check ?? 'VALUE IS NOT NULL';
  return {
    code: 'domain-constraint-validating',
    severity: 'error',
    message: `Adding a constraint to the domain ${domain} checks every column of that type in every table, holding a SHARE lock on each of those tables (blocking their writes) until all are scanned.`,
    hint: [
      `await knex.raw(${jsString(`ALTER DOMAIN ${domain} ADD CONSTRAINT ${quoteIdent(name)} CHECK (${check}) NOT VALID`)}); // instant; new values are checked from now on`,
      `// then, in a later migration with export const config = { transaction: false }, at a quiet time (PostgreSQL 17 and older still lock writes for this scan):`,
      `await knex.raw(${jsString(`ALTER DOMAIN ${domain} VALIDATE CONSTRAINT ${quoteIdent(name)}`)});`,
    ].join('\n'),
  };
}

/** A SQL expression as a backfill value: a JavaScript literal when it is one, else `knex.raw('…')`. */
function jsValue(expression: string): string {
  const text = expression.trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return text;
  if (/^(true|false)$/i.test(text)) return text.toLowerCase();
  if (/^null$/i.test(text)) return 'null';
  const literal = /^'((?:[^']|'')*)'$/.exec(text);
  if (literal) return jsString(literal[1].replace(/''/g, "'"));
  return `knex.raw(${jsString(text)})`;
}

/** `"schema"."table"` for SQL written into a hint. */
function qualified(table: TableName): string {
  return table.schema ? `${quoteIdent(table.schema)}.${quoteIdent(table.table)}` : quoteIdent(table.table);
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `ADD PRIMARY KEY USING INDEX` over nullable columns: PostgreSQL sets them NOT NULL with a full scan under the table lock. */
export function primaryKeyNullableScan(input: { table: TableName; columns: readonly string[]; index: string }): Finding {
  const { table, columns, index } = input;
  return {
    code: 'primary-key-nullable-scan',
    severity: 'error',
    message:
      `Attaching ${quoted(index)} as the primary key of ${qualified(table)} makes ${columns.map(quoted).join(', ')} NOT NULL first, ` +
      'which checks every row while reads and writes wait (ACCESS EXCLUSIVE): the index build was concurrent, the scan is not.',
    hint:
      columns.map((c) => `await setNotNull(knex, ${jsString(table.table)}, ${jsString(c)}${schemaOption(table)}); // post-deploy, validated without blocking`).join('\n') +
      `\nawait knex.raw('ALTER TABLE ?? ADD CONSTRAINT ?? PRIMARY KEY USING INDEX ??', [${jsString(table.table)}, ${jsString(index)}, ${jsString(index)}]); // then catalog only`,
  };
}

/** A foreign key that no index of its table leads with. */
export function foreignKeyWithoutIndex(input: { table: TableName; columns: readonly string[]; refTable: TableName }): Finding {
  const { table, columns, refTable } = input;
  return {
    code: 'foreign-key-without-index',
    severity: 'warning',
    message:
      `No index of ${qualified(table)} starts with ${columns.map(quoted).join(', ')}: every DELETE from ${qualified(refTable)} (and every update of its key) ` +
      `has to scan ${qualified(table)} to check the foreign key, under a lock, and joins on it cannot use an index.`,
    hint: `await addIndexConcurrently(knex, ${jsString(table.table)}, ${jsArray(columns)}${schemaOption(table)});`,
  };
}
