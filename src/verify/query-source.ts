/**
 * Where verify's queries come from (SOURCE):
 * - a `.sql` file: statements separated by `;` (split by PostgreSQL's own scanner, so a `;` in a
 *   string, a comment or a dollar quote does not split), `$1`-style parameters allowed;
 * - a `.jsonl` file of `{ "sql": "...", "bindings": [...] }` lines, as `recordQueries` writes it;
 * - `pg_stat_statements`: the normalized queries the target database has seen.
 * A file that cannot be read or split is bad input, named with its line; a statement that does
 * not parse is kept and reported as a syntax error.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { readOnlyQuery } from '../analysis/capture/capture-session.js';
import { loadParser } from '../analysis/parser.js';
import { ConfigError } from '../errors.js';
import { distinct, statementsOf, type LoadedStatement } from './statements.js';

/** What a SOURCE argument names. */
export type QuerySourceSpec =
  | { readonly kind: 'sql' | 'jsonl'; readonly path: string; readonly given: string }
  | { readonly kind: 'pg_stat_statements'; readonly given: string };

/** The statements of one source, deduplicated, with notes for the reader. */
export interface QuerySet {
  readonly source: string;
  readonly statements: readonly LoadedStatement[];
  /** What the reader should know (a recording that hit its limit, rows hidden by privileges…). */
  readonly notes: readonly string[];
}

/** First words of the statements PREPARE can take. */
const QUERY_WORDS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'WITH', 'VALUES', 'TABLE']);

/** The word that names the target's `pg_stat_statements` as a SOURCE. */
export const PG_STAT_STATEMENTS = 'pg_stat_statements';

/**
 * What `given` names, for the flag `flag`: a `.sql` or `.jsonl` file (relative to `cwd`), or
 * `pg_stat_statements`. Anything else is a {@link ConfigError}.
 */
export function parseSourceSpec(given: string, flag: string, cwd = process.cwd()): QuerySourceSpec {
  if (given === PG_STAT_STATEMENTS) return { kind: 'pg_stat_statements', given };
  const extension = path.extname(given).toLowerCase();
  if (extension === '.sql' || extension === '.jsonl') return { kind: extension === '.sql' ? 'sql' : 'jsonl', path: path.resolve(cwd, given), given };
  throw new ConfigError(
    `${flag} ${JSON.stringify(given)}: a SOURCE is a .sql file (statements separated by ;), a .jsonl file (written by recordQueries), or the word ${PG_STAT_STATEMENTS}.`,
  );
}

function readText(spec: { path: string; given: string }, flag: string): string {
  try {
    return readFileSync(spec.path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new ConfigError(`${flag} ${spec.given}: ${reason} (looked for ${spec.path}).`, { cause: error });
  }
}

/** The line (1-based) of a UTF-8 byte offset in `bytes`. */
function lineAt(bytes: Buffer, offset: number): number {
  let line = 1;
  for (let i = 0; i < Math.min(offset, bytes.length); i++) if (bytes[i] === 10) line++;
  return line;
}

interface LibPgQuery {
  scanSync(sql: string): { tokens: Array<{ start: number; end: number; text: string }> };
  parseSync(sql: string): unknown;
}

async function library(): Promise<LibPgQuery> {
  await loadParser();
  const module = (await import('libpg-query')) as unknown as { default?: LibPgQuery } & LibPgQuery;
  return typeof module.scanSync === 'function' ? module : (module.default as LibPgQuery);
}

/** The statements of a `.sql` file's text, each with its line; throws a ConfigError naming the line when it cannot be split. */
export async function sqlFileStatements(text: string, name: string): Promise<LoadedStatement[]> {
  const lib = await library();
  const bytes = Buffer.from(text, 'utf8');
  let tokens: Array<{ start: number; end: number; text: string }>;
  try {
    tokens = lib.scanSync(text).tokens;
  } catch {
    // The scanner stops at an unterminated quote, comment or dollar quote: the parser says where.
    let position = 0;
    let message = 'it cannot be split into statements';
    try {
      lib.parseSync(text);
    } catch (error) {
      const details = (error as { sqlDetails?: { cursorPosition?: number; message?: string } }).sqlDetails;
      position = details?.cursorPosition ?? 0;
      message = details?.message ?? (error as Error).message;
    }
    const said = message.replace(/\s+/g, ' ');
    throw new ConfigError(
      `${name}:${lineAt(bytes, position)}: ${said.length > 120 ? `${said.slice(0, 119)}…` : said}. The file cannot be split into statements; nothing was checked.`,
    );
  }
  const out: LoadedStatement[] = [];
  let start = 0;
  const take = (end: number) => {
    const piece = bytes.subarray(start, end).toString('utf8');
    if (piece.trim() === '') return;
    // The line of each statement itself (the parser leaves out the comments before it).
    let cursor = 0;
    for (const statement of statementsOf(piece, name)) {
      const at = piece.indexOf(statement.sql, cursor);
      const offset = at >= 0 ? at : piece.length - piece.trimStart().length;
      if (at >= 0) cursor = at + statement.sql.length;
      out.push({ ...statement, origin: `${name}:${lineAt(bytes, start + Buffer.byteLength(piece.slice(0, offset)))}` });
    }
  };
  for (const token of tokens) {
    if (token.text !== ';') continue;
    take(token.start);
    start = token.end;
  }
  take(bytes.length);
  return out;
}

/** The statements of a `.jsonl` recording; a line that is not a recorded query is a ConfigError naming it. */
export async function jsonlStatements(text: string, name: string): Promise<{ statements: LoadedStatement[]; notes: string[] }> {
  await loadParser();
  const statements: LoadedStatement[] = [];
  const notes: string[] = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch (error) {
      throw new ConfigError(`${name}:${i + 1}: not a JSON line (${(error as Error).message}). Each line is { "sql": "...", "bindings": [...] }, as recordQueries writes it; nothing was checked.`);
    }
    const record = entry as { sql?: unknown; bindings?: unknown; truncated?: unknown };
    if (entry && typeof entry === 'object' && !Array.isArray(entry) && typeof record.truncated === 'string' && record.sql === undefined) {
      notes.push(`${name}:${i + 1}: ${record.truncated}`);
      continue;
    }
    if (!entry || typeof entry !== 'object' || Array.isArray(entry) || typeof record.sql !== 'string' || record.sql.trim() === '') {
      throw new ConfigError(`${name}:${i + 1}: a line must be an object with a non-empty "sql" string, as recordQueries writes it; nothing was checked.`);
    }
    if (record.bindings !== undefined && !Array.isArray(record.bindings)) {
      throw new ConfigError(`${name}:${i + 1}: "bindings" must be an array when present; nothing was checked.`);
    }
    statements.push(...statementsOf(record.sql, `${name}:${i + 1}`));
  }
  return { statements, notes };
}

/** Reads a file SOURCE (before connecting: a bad file changes nothing). */
export async function readQueryFile(spec: Extract<QuerySourceSpec, { path: string }>, flag: string): Promise<QuerySet> {
  const text = readText(spec, flag);
  const name = spec.given;
  if (spec.kind === 'sql') return { source: name, statements: distinct(await sqlFileStatements(text, name)), notes: [] };
  const { statements, notes } = await jsonlStatements(text, name);
  return { source: name, statements: distinct(statements), notes };
}

/**
 * The normalized queries of the target's `pg_stat_statements` for its own database, most called
 * first. Only read, in a READ ONLY transaction. A ConfigError when the extension is not there
 * (not created in the database, or not loaded by the server).
 */
export async function readPgStatStatements(knex: Knex): Promise<QuerySet> {
  await loadParser();
  const read = readOnlyQuery(knex);
  const [facts] = await read(
    `SELECT current_database() AS database,
       (SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_stat_statements') AS schema`,
    [],
  );
  const database = String(facts?.database);
  const enable = 'add pg_stat_statements to shared_preload_libraries (a server restart), then run CREATE EXTENSION pg_stat_statements in the database';
  const otherwise = 'Or record the queries with recordQueries() in the application\'s test run, or list them in a .sql file.';
  if (typeof facts?.schema !== 'string') {
    throw new ConfigError(`pg_stat_statements: the extension is not installed in the database ${database}. To use it, ${enable}. ${otherwise} Nothing was checked.`);
  }
  const schema = `"${facts.schema.replace(/"/g, '""')}"`;
  let rows: ReadonlyArray<Record<string, unknown>>;
  try {
    rows = await read(
      `SELECT s.query, sum(s.calls)::float8 AS calls FROM ${schema}.pg_stat_statements s
       WHERE s.dbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = current_database())
       GROUP BY s.query ORDER BY 2 DESC, 1`,
      [],
    );
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === '55000') {
      throw new ConfigError(
        `pg_stat_statements: the extension is created in ${database} but the server has not loaded it (${(error as Error).message}). To use it, ${enable}. ${otherwise} Nothing was checked.`,
        { cause: error },
      );
    }
    throw error;
  }
  const statements: LoadedStatement[] = [];
  let hidden = 0;
  let utility = 0;
  for (const row of rows) {
    const text = typeof row.query === 'string' ? row.query : '';
    if (text === '' || text === '<insufficient privilege>') {
      hidden++;
      continue;
    }
    const calls = Number(row.calls);
    for (const statement of statementsOf(text, `${PG_STAT_STATEMENTS} (${calls.toLocaleString('en-US')} call${calls === 1 ? '' : 's'})`)) {
      // pg_stat_statements also counts BEGIN, SET, DDL…: those are not the application's queries to
      // check. Its normalization can leave them unparsable (`SAVEPOINT $1`): judged by their first word.
      if (statement.status === 'not-checked' || (statement.status === 'syntax-error' && !QUERY_WORDS.has(statement.command))) utility++;
      else statements.push(statement);
    }
  }
  const notes: string[] = [];
  if (rows.length === 0) notes.push(`pg_stat_statements has no queries for the database ${database} (reset, or nothing ran since the server started).`);
  if (utility > 0) notes.push(`pg_stat_statements: ${utility} statement${utility === 1 ? '' : 's'} that PREPARE cannot take (BEGIN, SET, DDL…) left out.`);
  if (hidden > 0) notes.push(`pg_stat_statements: ${hidden} quer${hidden === 1 ? 'y is' : 'ies are'} hidden from this role (grant it pg_read_all_stats to check them).`);
  return { source: PG_STAT_STATEMENTS, statements: distinct(statements), notes };
}

/** Reads any SOURCE: files now, `pg_stat_statements` from the target. */
export async function loadQuerySource(spec: QuerySourceSpec, flag: string, knex: Knex): Promise<QuerySet> {
  return spec.kind === 'pg_stat_statements' ? readPgStatStatements(knex) : readQueryFile(spec, flag);
}
