import type { Knex } from 'knex';
import { loadModule, parseSync } from 'libpg-query';
import { ConfigError } from '../errors.js';

/** A SQL fragment a user passes deliberately with `knex.raw(...)`: inserted as SQL, never quoted. */
export type RawSql = Knex.Raw;

/** A value for a column default or a backfill: a JavaScript value (quoted as a literal) or `knex.raw(...)` (inserted as SQL). */
export type SqlValue = string | number | bigint | boolean | null | Date | RawSql;

/** True when `value` is a `knex.raw(...)` object. */
export function isRaw(value: unknown): value is RawSql {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { isRawInstance?: unknown }).isRawInstance === true &&
    typeof (value as { toQuery?: unknown }).toQuery === 'function'
  );
}

/** The SQL of a `knex.raw(...)`, bindings inlined as literals. */
export function rawToSql(raw: RawSql): string {
  return raw.toQuery();
}

/**
 * A PostgreSQL literal for a JavaScript value. Strings use the `E'…'` form so that the
 * result is the same whatever `standard_conforming_strings` says.
 */
export function literal(value: Exclude<SqlValue, RawSql>): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ConfigError(`Cannot use ${value} as a SQL literal.`);
    return String(value);
  }
  const text = value instanceof Date ? value.toISOString() : value;
  if (typeof text !== 'string') throw new ConfigError(`Cannot use ${typeof text} as a SQL literal; pass knex.raw(...) for SQL.`);
  if (text.includes('\0')) throw new ConfigError('A SQL literal cannot contain a NUL byte.');
  return `E'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** The SQL of a value: a literal, or the raw SQL as given. */
export function valueSql(value: SqlValue): string {
  return isRaw(value) ? rawToSql(value) : literal(value);
}

let parserReady: Promise<void> | undefined;

/** Loads the PostgreSQL parser (WASM) once. */
async function parser(): Promise<void> {
  parserReady ??= loadModule();
  await parserReady;
}

type Node = Record<string, unknown>;

function singleTarget(sql: string, what: string, original: string): Node {
  let result: { stmts?: { stmt?: Node }[] };
  try {
    result = parseSync(sql);
  } catch (error) {
    throw new ConfigError(`The ${what} ${JSON.stringify(original)} is not valid SQL: ${(error as Error).message}.`, {
      cause: error,
      details: { what, value: original },
    });
  }
  const stmts = result.stmts ?? [];
  const select = stmts.length === 1 ? (stmts[0]?.stmt?.SelectStmt as Node | undefined) : undefined;
  const targets = select?.targetList as Node[] | undefined;
  const extra = select && Object.keys(select).some((k) => !['targetList', 'limitOption', 'op'].includes(k));
  if (!select || !targets || targets.length !== 1 || extra) {
    throw new ConfigError(
      `The ${what} ${JSON.stringify(original)} must be a single SQL ${what === 'type' ? 'type name' : 'expression'}, not several statements or clauses.`,
      { details: { what, value: original } },
    );
  }
  return (targets[0].ResTarget as Node).val as Node;
}

/**
 * Checks that a column type given as a string is exactly one type name (`'varchar(255)'`,
 * `'timestamp with time zone'`, `'text[]'`), so it can be inserted as written. A `knex.raw(...)`
 * type is the caller's deliberate SQL and is not checked.
 */
export async function typeSql(type: string | RawSql): Promise<string> {
  if (isRaw(type)) return rawToSql(type);
  if (typeof type !== 'string' || type.trim() === '') throw new ConfigError(`A column type must be a non-empty string; got ${JSON.stringify(type)}.`);
  await parser();
  const node = singleTarget(`SELECT NULL::${type}`, 'type', type);
  const cast = node.TypeCast as Node | undefined;
  if (!cast || !(cast.arg as Node | undefined)?.A_Const) {
    throw new ConfigError(`The type ${JSON.stringify(type)} must be a single SQL type name.`, { details: { type } });
  }
  return type.trim();
}

/**
 * Checks that a SQL expression given as a string (a CHECK constraint, a WHERE clause) is one
 * expression and cannot end the statement it goes into. Returns the expression and the names of
 * the functions it calls.
 */
export async function expressionSql(expression: string | RawSql, what = 'expression'): Promise<{ sql: string; functions: string[] }> {
  const sql = isRaw(expression) ? rawToSql(expression) : expression;
  if (typeof sql !== 'string' || sql.trim() === '') throw new ConfigError(`The ${what} must be a non-empty SQL expression.`);
  await parser();
  const node = singleTarget(`SELECT (${sql})`, what, sql);
  const functions: string[] = [];
  collectFunctions(node, functions);
  return { sql: sql.trim(), functions };
}

function collectFunctions(node: unknown, out: string[]): void {
  if (Array.isArray(node)) {
    for (const child of node) collectFunctions(child, out);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  for (const [key, child] of Object.entries(node)) {
    if (key === 'FuncCall') {
      const names = ((child as Node).funcname as Node[] | undefined) ?? [];
      const last = names[names.length - 1]?.String as { sval?: string } | undefined;
      if (last?.sval) out.push(last.sval);
    }
    collectFunctions(child, out);
  }
}

/** True when any function of that name is VOLATILE (an over-approximation: overloads are not told apart). */
export async function anyVolatile(knex: Knex, functions: readonly string[]): Promise<string[]> {
  if (functions.length === 0) return [];
  const result = await knex.raw<{ rows: { proname: string }[] }>(
    "SELECT DISTINCT proname FROM pg_catalog.pg_proc WHERE proname = ANY(?::text[]) AND provolatile = 'v' ORDER BY proname",
    [functions as string[]],
  );
  return result.rows.map((r) => r.proname);
}
