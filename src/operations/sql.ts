import { isDeepStrictEqual } from 'node:util';
import type { Knex } from 'knex';
import { loadModule, parseSync, scanSync } from 'libpg-query';
import { deparseSync } from 'pgsql-deparser';
import { ConfigError } from '../errors.js';

/**
 * SQL that users hand to the operations: column types, expressions (CHECK, WHERE, defaults,
 * index expressions, backfill values) and JavaScript values.
 *
 * A parameter that is SQL is parsed by PostgreSQL's own parser (libpg-query) as exactly what it
 * must be, one type name or one expression, and what runs is the parser's rendering of that tree
 * (pgsql-deparser, the deparser of libpg-query's trees), never the text as typed: comments,
 * semicolons, unbalanced parentheses and `$n` parameters are refused, and an expression is
 * always parenthesised where it is embedded. The finished statement is then parsed again and
 * must be the statement built around a placeholder, with the user's tree in the placeholder's
 * place: if the user's SQL changed anything around it, the operation refuses before the
 * database is touched. JavaScript values never go through the parser: they become literals.
 */

/** A SQL fragment a user passes deliberately with `knex.raw(...)`: parsed like a string of SQL. */
export type RawSql = Knex.Raw;

/** A value for a column default or a backfill: a JavaScript value (quoted as a literal) or `knex.raw(...)` (a SQL expression). */
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

/** The SQL of a `knex.raw(...)`, its bindings inlined as literals (knex's meaning of a raw, `\\?` included). */
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

type Node = Record<string, unknown>;

/** A user's SQL parameter, parsed: what it must be, and the parser's rendering of it. */
export interface SqlFragment {
  readonly kind: 'type' | 'expression';
  /** What the parameter is, for messages: `'type'`, `'where'`, `'check expression'`… */
  readonly what: string;
  /** The text the user gave (a `knex.raw` with its bindings inlined). */
  readonly original: string;
  /** The parser's rendering: what runs. */
  readonly sql: string;
  /** The parse tree, locations removed. */
  readonly node: Node;
  /** Names of the functions the expression calls (for the volatility check of defaults). */
  readonly functions: readonly string[];
}

/** A piece of a statement: SQL that knex-zd wrote itself (quoted identifiers, literals) or a user's fragment. */
export type SqlPiece = string | SqlFragment;

/** How a fragment is written into a statement: a type as rendered, an expression in parentheses. */
export function embed(piece: SqlPiece): string {
  if (typeof piece === 'string') return piece;
  return piece.kind === 'type' ? piece.sql : `(${piece.sql})`;
}

let parserReady: Promise<void> | undefined;

/** Loads the PostgreSQL parser (WASM) once; the functions here and in `ownership.ts` then parse synchronously. */
export async function parser(): Promise<void> {
  parserReady ??= loadModule();
  await parserReady;
}

/** Byte offsets in a tree: `location`, a statement's `stmt_location`/`stmt_len`, `list_start`/`rexpr_list_end`… */
const LOCATION_KEY = /^(location|stmt_location|stmt_len)$|list_(start|end)$/;

/** A copy of a parse tree without its byte offsets, which differ with the text around a node. */
export function withoutLocations<T>(node: T): T {
  if (Array.isArray(node)) return node.map((child: unknown) => withoutLocations(child)) as T;
  if (typeof node !== 'object' || node === null) return node;
  const out: Node = {};
  for (const [key, value] of Object.entries(node)) {
    if (!LOCATION_KEY.test(key)) out[key] = withoutLocations(value);
  }
  return out as T;
}

function refuse(fragment: { what: string; original: string }, reason: string, cause?: unknown): ConfigError {
  return new ConfigError(`The ${fragment.what} ${JSON.stringify(fragment.original)} ${reason}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { what: fragment.what, value: fragment.original },
  });
}

function parseOrRefuse(sql: string, fragment: { what: string; original: string }): { stmts?: { stmt?: Node }[] } {
  try {
    return parseSync(sql);
  } catch (error) {
    throw refuse(fragment, `is not valid SQL: ${(error as Error).message}.`, error);
  }
}

/** Refuses what a single type or expression never needs and what could hide text: comments, `;`. */
function refuseSeparators(fragment: { what: string; original: string }): void {
  let tokens: { text: string; tokenName: string }[];
  try {
    tokens = scanSync(fragment.original).tokens;
  } catch (error) {
    throw refuse(fragment, `is not valid SQL: ${(error as Error).message}.`, error);
  }
  for (const token of tokens) {
    if (token.tokenName === 'SQL_COMMENT' || token.tokenName === 'C_COMMENT') {
      throw refuse(fragment, `contains a comment (${JSON.stringify(token.text)}): a SQL parameter must be exactly one ${fragment.what === 'type' ? 'type name' : 'expression'}, without comments.`);
    }
    if (token.text === ';') {
      throw refuse(fragment, 'contains a semicolon: a SQL parameter must be exactly one ' + (fragment.what === 'type' ? 'type name' : 'expression') + ', not several statements.');
    }
  }
}

/** The one target of `SELECT <text>`, refusing any other clause, a second target or an alias. */
function soleTarget(sql: string, fragment: { what: string; original: string }, expected: string): Node {
  const stmts = parseOrRefuse(sql, fragment).stmts ?? [];
  const select = stmts.length === 1 ? (stmts[0]?.stmt?.SelectStmt as Node | undefined) : undefined;
  const targets = select?.targetList as Node[] | undefined;
  const extra = select && Object.keys(select).some((k) => !['targetList', 'limitOption', 'op'].includes(k));
  const target = targets?.length === 1 ? (targets[0].ResTarget as Node | undefined) : undefined;
  if (!select || !target || extra || target.name !== undefined) {
    throw refuse(fragment, `must be exactly one SQL ${expected}, not several, and without other clauses.`);
  }
  return target.val as Node;
}

const WRITING_NODES = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/** Refuses `$n` (the statement's own parameters), writes, and row locks anywhere in the tree. */
function refuseInside(node: unknown, fragment: { what: string; original: string }): void {
  if (Array.isArray(node)) {
    for (const child of node) refuseInside(child, fragment);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  for (const [key, child] of Object.entries(node)) {
    if (key === 'ParamRef') {
      throw refuse(fragment, 'contains a parameter ($n): write the value itself, as a literal; $n belongs to the statement around it.');
    }
    if (WRITING_NODES.has(key)) throw refuse(fragment, 'contains a statement that writes (INSERT, UPDATE, DELETE or MERGE); an expression may only read.');
    if (key === 'intoClause' || key === 'lockingClause') throw refuse(fragment, 'contains SELECT … INTO or FOR UPDATE/SHARE; an expression may only read.');
    refuseInside(child, fragment);
  }
}

function render(node: Node, fragment: { what: string; original: string }): string {
  try {
    return deparseSync(node, { pretty: false });
  } catch (error) {
    throw refuse(fragment, `cannot be rendered back to SQL by the parser: ${(error as Error).message}.`, error);
  }
}

function sourceText(value: unknown, what: string): string {
  let text = value;
  if (isRaw(value)) {
    try {
      text = rawToSql(value);
    } catch (error) {
      throw new ConfigError(`The ${what} knex.raw(${JSON.stringify((value as { sql?: unknown }).sql)}) cannot be rendered by knex: ${(error as Error).message} (write a ? that is not a binding as \\?).`, {
        cause: error,
        details: { what },
      });
    }
  }
  if (typeof text !== 'string' || text.trim() === '') {
    throw new ConfigError(`The ${what} must be a non-empty string of SQL or knex.raw(...); got ${JSON.stringify(text)}.`, { details: { what } });
  }
  // The parser reads a C string: it would stop at a NUL byte, and see less than was given.
  if (text.includes('\0')) throw refuse({ what, original: text }, 'contains a NUL byte.');
  return text;
}

/**
 * Parses a column type (`'varchar(255)'`, `'timestamp with time zone'`, `'text[]'`, or the same
 * as `knex.raw`) as exactly one type name; the parser's rendering is what runs.
 */
export async function typeSql(type: string | RawSql, what = 'type'): Promise<SqlFragment> {
  const original = sourceText(type, what);
  const fragment = { what, original };
  await parser();
  refuseSeparators(fragment);
  const target = soleTarget(`SELECT NULL::${original}`, fragment, 'type name');
  const cast = target.TypeCast as Node | undefined;
  const typeName = cast?.typeName as Node | undefined;
  if (!cast || !typeName || !(cast.arg as Node | undefined)?.A_Const) throw refuse(fragment, 'must be exactly one SQL type name.');
  if (typeName.setof === true || typeName.pct_type === true) throw refuse(fragment, 'must be a plain type name (no SETOF, no %TYPE).');
  refuseInside(typeName, fragment);
  const node = withoutLocations(typeName);
  return { kind: 'type', what, original, sql: render({ TypeName: node }, fragment), node, functions: [] };
}

/**
 * Parses a SQL expression given as a string or `knex.raw` (a CHECK constraint, a WHERE clause,
 * a default, an index expression, a backfill value) as exactly one expression; the parser's
 * rendering, in parentheses, is what runs.
 */
export async function expressionSql(expression: string | RawSql, what = 'expression'): Promise<SqlFragment> {
  const original = sourceText(expression, what);
  const fragment = { what, original };
  await parser();
  refuseSeparators(fragment);
  const target = soleTarget(`SELECT ${original}`, fragment, 'expression');
  const star = (target.ColumnRef as Node | undefined)?.fields as Node[] | undefined;
  if (star?.some((f) => 'A_Star' in f)) throw refuse(fragment, 'must be an expression, not *.');
  refuseInside(target, fragment);
  const node = withoutLocations(target);
  const functions: string[] = [];
  collectFunctions(node, functions);
  return { kind: 'expression', what, original, sql: render(node, fragment), node, functions };
}

/** The SQL of a value: a literal for a JavaScript value, a parsed expression for `knex.raw`. */
export async function valueSql(value: SqlValue, what = 'value'): Promise<SqlPiece> {
  return isRaw(value) ? expressionSql(value, what) : literal(value);
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

const PLACEHOLDER = 'zd_embedded_';

function placeholderIndex(names: unknown): number | null {
  if (!Array.isArray(names) || names.length !== 1) return null;
  const sval = ((names[0] as Node).String as { sval?: unknown } | undefined)?.sval;
  if (typeof sval !== 'string' || !sval.startsWith(PLACEHOLDER)) return null;
  return Number(sval.slice(PLACEHOLDER.length));
}

/** The skeleton's tree with each placeholder replaced by the tree of the fragment it stands for. */
function substitute(node: unknown, fragments: readonly SqlFragment[], seen: number[]): unknown {
  if (Array.isArray(node)) return node.map((child) => substitute(child, fragments, seen));
  if (typeof node !== 'object' || node === null) return node;
  const record = node as Node;
  const column = placeholderIndex((record.ColumnRef as Node | undefined)?.fields);
  if (column !== null && Object.keys(record).length === 1 && fragments[column]?.kind === 'expression') {
    seen[column]++;
    return fragments[column].node;
  }
  const type = 'typemod' in record ? placeholderIndex(record.names) : null;
  if (type !== null && fragments[type]?.kind === 'type') {
    seen[type]++;
    return fragments[type].node;
  }
  const out: Node = {};
  for (const [key, value] of Object.entries(record)) out[key] = substitute(value, fragments, seen);
  return out;
}

function statementTree(sql: string): unknown {
  return withoutLocations(parseSync(sql));
}

/**
 * Builds a statement around users' SQL fragments and proves that they stayed in their place:
 * the statement is built twice, with the fragments and with a placeholder for each, both are
 * parsed, and the first must be the second with each placeholder replaced by its fragment's tree.
 * Returns the statement with the fragments. `build` must use each piece it is given.
 */
export function buildStatement(pieces: readonly SqlPiece[], build: (sql: readonly string[]) => string): string {
  const sql = build(pieces.map(embed));
  const fragments = pieces.filter((p): p is SqlFragment => typeof p !== 'string');
  if (fragments.length === 0) return sql;
  let index = 0;
  const skeleton = build(
    pieces.map((piece) => {
      if (typeof piece === 'string') return piece;
      const name = `"${PLACEHOLDER}${index++}"`;
      return piece.kind === 'type' ? name : `(${name})`;
    }),
  );
  const seen = fragments.map(() => 0);
  let actual: unknown;
  let expected: unknown;
  try {
    actual = statementTree(sql);
    expected = substitute(statementTree(skeleton), fragments, seen);
  } catch (error) {
    throw refuse(fragments[0], `does not fit in the statement it goes into (${(error as Error).message}):\n  ${sql}`, error);
  }
  const missing = seen.findIndex((count) => count === 0);
  if (missing !== -1) throw new Error(`internal: the ${fragments[missing].what} was not placed in the statement ${skeleton}`);
  if (!isDeepStrictEqual(actual, expected)) {
    const names = fragments.map((f) => `${f.what} ${JSON.stringify(f.original)}`).join(', ');
    throw new ConfigError(`The statement built with the ${names} does not parse as the statement around it with that SQL in its place; refusing to run it:\n  ${sql}`, {
      details: { statement: sql, fragments: fragments.map((f) => ({ what: f.what, value: f.original })) },
    });
  }
  return sql;
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
