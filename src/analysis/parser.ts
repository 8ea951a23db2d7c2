/**
 * The PostgreSQL parser (libpg-query's WASM build), loaded once and then used
 * synchronously: classifying thousands of statements must not pay an `await` each.
 */

import { ZeroDowntimeError } from '../errors.js';

/** A parse-tree node as libpg-query returns it: `{ NodeType: { ...fields } }` or a bare field object. */
export type PgNode = Record<string, any>;

/** One statement of the input: its tree, or the parser's error message, with its own text. */
export type ParsedStatement =
  | {
      readonly ok: true;
      readonly sql: string;
      readonly node: PgNode;
      /** The parsed input, for slicing by the byte locations in `node`. */
      readonly source: SourceText;
      /** Byte offset in `source` just past the statement. */
      readonly end: number;
    }
  | { readonly ok: false; readonly sql: string; readonly error: string };

interface LibPgQuery {
  loadModule(): Promise<void>;
  parseSync(sql: string): { stmts?: { stmt?: PgNode; stmt_location?: number; stmt_len?: number }[] };
  scanSync(sql: string): { tokens: { start: number; end: number; text: string }[] };
}

let library: LibPgQuery | null = null;
let loading: Promise<void> | null = null;

/** Loads the PostgreSQL parser (WASM) once; later calls return at once. */
export function loadParser(): Promise<void> {
  if (library) return Promise.resolve();
  // Imported lazily so that users who never analyse SQL never instantiate the WASM module.
  loading ??= import('libpg-query')
    .then(async (module) => {
      const candidate = ((module as { default?: unknown }).default ?? module) as LibPgQuery;
      const lib = typeof candidate.parseSync === 'function' ? candidate : (module as unknown as LibPgQuery);
      await lib.loadModule();
      library = lib;
    })
    .catch((error: unknown) => {
      loading = null;
      throw error;
    });
  return loading;
}

/** True once {@link loadParser} has finished. */
export function isParserLoaded(): boolean {
  return library !== null;
}

function requireLibrary(): LibPgQuery {
  if (!library) {
    throw new ZeroDowntimeError(
      'ZD_PARSER_NOT_LOADED',
      'The PostgreSQL parser is not loaded: call `await loadParser()` once before `analyzeSqlSync()`, or use `await analyzeSql()`.',
    );
  }
  return library;
}

/**
 * The parsed input, sliced by the parser's locations. The parser reports UTF-8 byte
 * offsets; plain ASCII input (nearly every migration) skips the encoding.
 */
export class SourceText {
  private readonly bytes: Buffer | null;

  constructor(readonly text: string) {
     
    this.bytes = /^[\x00-\x7f]*$/.test(text) ? null : Buffer.from(text, 'utf8');
  }

  /** Length of the input in UTF-8 bytes. */
  get byteLength(): number {
    return this.bytes ? this.bytes.length : this.text.length;
  }

  /** The text between two byte offsets. */
  slice(start: number, end?: number): string {
    if (!this.bytes) return this.text.slice(start, end);
    return this.bytes.subarray(start, end).toString('utf8');
  }
}

/**
 * Parses `sql` into its statements, each with its own text (trimmed, without the `;`).
 * When the input does not parse, it is split on top-level semicolons by the parser's
 * scanner so that only the broken statement is reported as an error.
 */
export function parseStatements(sql: string): ParsedStatement[] {
  const lib = requireLibrary();
  if (sql.trim() === '') return [];
  const source = new SourceText(sql);
  try {
    return parseWhole(lib, source);
  } catch (error) {
    const pieces = splitStatements(lib, source);
    if (pieces.length <= 1) return [{ ok: false, sql: sql.trim(), error: messageOf(error) }];
    const out: ParsedStatement[] = [];
    for (const piece of pieces) {
      try {
        out.push(...parseWhole(lib, new SourceText(piece)));
      } catch (pieceError) {
        out.push({ ok: false, sql: piece.trim(), error: messageOf(pieceError) });
      }
    }
    return out;
  }
}

function parseWhole(lib: LibPgQuery, source: SourceText): ParsedStatement[] {
  const result = lib.parseSync(source.text);
  const out: ParsedStatement[] = [];
  for (const entry of result.stmts ?? []) {
    if (!entry.stmt) continue;
    const start = entry.stmt_location ?? 0;
    // stmt_len is 0 (and so omitted) for the last statement: it runs to the end of the input.
    const end = entry.stmt_len ? start + entry.stmt_len : source.byteLength;
    const text = source.slice(start, end);
    out.push({ ok: true, sql: stripSemicolon(text.trim()), node: entry.stmt, source, end });
  }
  return out;
}

function splitStatements(lib: LibPgQuery, source: SourceText): string[] {
  let tokens: { start: number; text: string }[];
  try {
    tokens = lib.scanSync(source.text).tokens;
  } catch {
    return [];
  }
  const pieces: string[] = [];
  let start = 0;
  for (const token of tokens) {
    if (token.text !== ';') continue;
    pieces.push(source.slice(start, token.start));
    start = token.start + 1;
  }
  pieces.push(source.slice(start));
  return pieces.filter((piece) => piece.trim() !== '');
}

function stripSemicolon(text: string): string {
  return text.endsWith(';') ? text.slice(0, -1).trimEnd() : text;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Walks a parse tree depth first, through arrays and objects, calling `visit` with each object
 * entry (`{ RangeVar: {…} }` gives `'RangeVar'` and its body) before descending into it. `visit`
 * returns `'skip'` to leave that entry's subtree out, or `'stop'` to end the walk. Returns false
 * when stopped.
 */
export function walkParseTree(value: unknown, visit: (key: string, child: unknown) => 'skip' | 'stop' | undefined): boolean {
  if (Array.isArray(value)) {
    for (const item of value) if (!walkParseTree(item, visit)) return false;
    return true;
  }
  if (value === null || typeof value !== 'object') return true;
  for (const [key, child] of Object.entries(value as PgNode)) {
    const next = visit(key, child);
    if (next === 'stop') return false;
    if (next !== 'skip' && !walkParseTree(child, visit)) return false;
  }
  return true;
}
