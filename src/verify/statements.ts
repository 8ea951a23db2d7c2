/**
 * The statements verify checks, whatever their source: each parsed by PostgreSQL's own parser,
 * sorted into what `PREPARE` can take (SELECT, INSERT, UPDATE, DELETE, MERGE), what it cannot
 * (transaction control, SET, DDL…: not checked), and syntax errors (reported as such, never as a
 * schema incompatibility).
 */
import { parseStatements, type PgNode } from '../analysis/parser.js';
import { insertTargets, type InsertTarget } from './insert-columns.js';

/** Whose queries: the release running now (`old`) or the one being deployed (`new`). */
export type QuerySide = 'old' | 'new';

/** One statement of a query source. */
export interface SourceStatement {
  /** The statement's text, as the parser cut it (no trailing `;`). */
  readonly sql: string;
  /** Where it came from: `queries.sql:12`, `recorded.jsonl:3`, `pg_stat_statements`. */
  readonly origin: string;
  /**
   * `checkable`: PREPARE can take it; `syntax-error`: it does not parse; `not-checked`: PREPARE
   * cannot take it (BEGIN, SET, DDL…).
   */
  readonly status: 'checkable' | 'syntax-error' | 'not-checked';
  /** The command (`SELECT`, `INSERT`…, or the first word of a statement that is not checked). */
  readonly command: string;
  /** The parser's error, or why the statement is not checked. */
  readonly problem: string | null;
}

/** A statement with what the checks need of its parse tree (internal to verify). */
export interface LoadedStatement extends SourceStatement {
  /** The INSERTs it makes (top level and in WITH), for the NOT NULL check. */
  readonly inserts: readonly InsertTarget[];
}

const PREPARABLE: Readonly<Record<string, string>> = {
  SelectStmt: 'SELECT',
  InsertStmt: 'INSERT',
  UpdateStmt: 'UPDATE',
  DeleteStmt: 'DELETE',
  MergeStmt: 'MERGE',
};

function firstWord(sql: string): string {
  const word = /^[\s(]*([A-Za-z_]+)/.exec(sql.replace(/^(\s*(--[^\n]*\n|\/\*[\s\S]*?\*\/))*/, ''))?.[1];
  return word ? word.toUpperCase() : '?';
}

/**
 * The statements of one SQL text from `origin` (a text may hold several). The parser must be
 * loaded (`loadParser()`).
 */
export function statementsOf(sql: string, origin: string): LoadedStatement[] {
  const out: LoadedStatement[] = [];
  for (const parsed of parseStatements(sql)) {
    if (!parsed.ok) {
      out.push({ sql: parsed.sql, origin, status: 'syntax-error', command: firstWord(parsed.sql), problem: parsed.error, inserts: [] });
      continue;
    }
    out.push(classify(parsed.sql, parsed.node, origin));
  }
  return out;
}

function classify(sql: string, node: PgNode, origin: string): LoadedStatement {
  const [type] = Object.keys(node);
  const command = PREPARABLE[type];
  if (!command) {
    return { sql, origin, status: 'not-checked', command: firstWord(sql), problem: 'PREPARE takes only SELECT, INSERT, UPDATE, DELETE and MERGE', inserts: [] };
  }
  if (type === 'SelectStmt' && node.SelectStmt?.intoClause) {
    return { sql, origin, status: 'not-checked', command: 'SELECT INTO', problem: 'SELECT INTO creates a table: PREPARE does not take it', inserts: [] };
  }
  // What is sent is `PREPARE name AS <this statement>`: it must parse back as exactly that one
  // PREPARE, whatever the statement's text holds (a trailing comment, a stray semicolon).
  const prepared = parseStatements(prepareSql('knex_zd_verify', sql));
  if (prepared.length !== 1 || !prepared[0].ok || Object.keys(prepared[0].node)[0] !== 'PrepareStmt') {
    return { sql, origin, status: 'not-checked', command, problem: 'it cannot be put in a PREPARE statement as it is', inserts: [] };
  }
  return { sql, origin, status: 'checkable', command, problem: null, inserts: insertTargets(node) };
}

/** `PREPARE "name" AS <sql>`: the statement verify sends for a checkable statement. */
export function prepareSql(name: string, sql: string): string {
  return `PREPARE "${name.replace(/"/g, '""')}" AS ${sql}`;
}

/** Keeps the first of each distinct statement text (the same query recorded twice is checked once). */
export function distinct<T extends SourceStatement>(statements: readonly T[]): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const statement of statements) {
    if (seen.has(statement.sql)) continue;
    seen.add(statement.sql);
    out.push(statement);
  }
  return out;
}
