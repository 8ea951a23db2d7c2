/**
 * `recordQueries(knex, file)`: records every distinct query an application sends through its knex
 * instance (its test suite, a staging run) to a `.jsonl` file that `knex-zd verify` reads. Cheap
 * enough to leave on in a test suite: one Set lookup per query, and one line written per new
 * distinct query, bounded.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Knex } from 'knex';
import { ConfigError } from '../errors.js';

/** Options of {@link recordQueries}. */
export interface RecordQueriesOptions {
  /**
   * At most this many distinct queries are written; later new ones are only counted (`dropped`)
   * and the file says so once. @default 10000
   */
  readonly maxQueries?: number;
  /** A query longer than this (characters) is not written, only counted. @default 100000 */
  readonly maxSqlLength?: number;
  /**
   * Write the bindings of each query's first call (strings cut to 200 characters, buffers and
   * objects as their type). `false` for a run on real data. @default true
   */
  readonly bindings?: boolean;
  /**
   * Append to the file, so that several processes of one test run can share it (verify reads
   * each distinct query once); `false` starts it afresh. @default true
   */
  readonly append?: boolean;
}

/** A running recording. */
export interface QueryRecorder {
  /** The file written. */
  readonly file: string;
  /** Distinct queries written so far. */
  readonly recorded: number;
  /** Calls of queries not written because of the limits (each call counts: past them nothing more is kept in memory). */
  readonly dropped: number;
  /** Why recording stopped by itself (the file could not be written), or null. */
  readonly error: Error | null;
  /** Stops recording and closes the file. */
  stop(): void;
}

/** Defaults of {@link RecordQueriesOptions}. */
export const DEFAULT_MAX_RECORDED_QUERIES = 10_000;
export const DEFAULT_MAX_RECORDED_SQL_LENGTH = 100_000;
const MAX_BINDING_TEXT = 200;

function positive(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ConfigError(`recordQueries: ${name} must be a whole number of at least 1; got ${JSON.stringify(value)}.`);
  }
  return value;
}

/** A binding as the recording shows it: JSON-safe and small. */
function sampleBinding(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value.length > MAX_BINDING_TEXT ? `${value.slice(0, MAX_BINDING_TEXT)}…` : value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (value instanceof Uint8Array) return { type: 'bytea', length: value.length };
  if (Array.isArray(value)) return depth > 2 ? { type: 'array', length: value.length } : value.slice(0, 20).map((v) => sampleBinding(v, depth + 1));
  return { type: typeof value === 'object' ? 'object' : typeof value };
}

/**
 * Records every distinct query `knex` sends (deduplicated by its SQL text, as the driver receives
 * it: `$1`-style parameters) to `file`, one JSON line each: `{ "sql": "...", "bindings": [...] }`.
 * Transactions are included (knex forwards their queries to the instance). Recording never makes
 * a query fail: a write error stops the recording and is kept in `error`.
 *
 * @example
 * // test/setup.ts of the release running in production
 * import { recordQueries } from 'knex-zero-downtime';
 * recordQueries(db, 'queries.jsonl');
 * // then, before deploying the next release:
 * //   npx knex-zd verify --old-queries queries.jsonl
 */
export function recordQueries(knex: Knex, file: string, options: RecordQueriesOptions = {}): QueryRecorder {
  if (typeof file !== 'string' || file === '') throw new ConfigError('recordQueries: the file must be a path, e.g. "queries.jsonl".');
  const maxQueries = positive(options.maxQueries, 'maxQueries', DEFAULT_MAX_RECORDED_QUERIES);
  const maxSqlLength = positive(options.maxSqlLength, 'maxSqlLength', DEFAULT_MAX_RECORDED_SQL_LENGTH);
  const withBindings = options.bindings !== false;
  let fd: number | null;
  try {
    fd = openSync(file, options.append === false ? 'w' : 'a');
  } catch (error) {
    throw new ConfigError(`recordQueries: cannot open ${file} for writing: ${(error as Error).message}.`, { cause: error });
  }
  const seen = new Set<string>();
  let recorded = 0;
  let dropped = 0;
  let failure: Error | null = null;
  let truncated = false;

  const write = (line: string): boolean => {
    if (fd === null) return false;
    try {
      writeSync(fd, `${line}\n`);
      return true;
    } catch (error) {
      failure = error as Error;
      stop();
      return false;
    }
  };

  const onQuery = (query: { sql?: unknown; bindings?: unknown }) => {
    const sql = query.sql;
    if (typeof sql !== 'string' || seen.has(sql)) return;
    // Past the limits nothing more is kept in memory either: each such call is only counted.
    if (recorded >= maxQueries || sql.length > maxSqlLength) {
      dropped++;
      if (recorded >= maxQueries && !truncated) {
        truncated = true;
        write(JSON.stringify({ truncated: `the recording stopped at maxQueries (${maxQueries}): later distinct queries were not recorded` }));
      }
      return;
    }
    seen.add(sql);
    const bindings = withBindings && Array.isArray(query.bindings) ? query.bindings.map((b) => sampleBinding(b)) : undefined;
    if (write(JSON.stringify(bindings && bindings.length > 0 ? { sql, bindings } : { sql }))) recorded++;
  };

  const listener = (query: { sql?: unknown; bindings?: unknown }) => {
    try {
      onQuery(query);
    } catch (error) {
      failure = error as Error;
      stop();
    }
  };

  function stop(): void {
    knex.removeListener('query', listener);
    if (fd !== null) {
      const open = fd;
      fd = null;
      try {
        closeSync(open);
      } catch {
        // Already closed: nothing left to do.
      }
    }
  }

  knex.on('query', listener);
  return {
    file,
    get recorded() {
      return recorded;
    },
    get dropped() {
      return dropped;
    },
    get error() {
      return failure;
    },
    stop,
  };
}
