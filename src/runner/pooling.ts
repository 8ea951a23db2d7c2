/**
 * Whether a client connection keeps one PostgreSQL session for its whole life (a direct
 * connection, or a session-pooled one), which session-level settings need, or is served by
 * whichever server connection is free at each transaction (transaction pooling, where a
 * session setting lands on a server connection that other clients then use).
 */
import type { Knex } from 'knex';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { processSingleton } from '../process-singleton.js';
import { sendInternal, type BaseQuery } from './internal-query.js';
import { openSideConnection, type SideConnection } from './side-connection.js';

/** What the runner found out about a connection. */
export interface Pinning {
  /** True when every statement sent on the connection runs in the same PostgreSQL session. */
  readonly pinned: boolean;
  /** How it was found out, for messages. */
  readonly evidence: string;
}

/** Rounds of the behavioural check: each one alone proves transaction pooling in practice. */
const PROBE_ROUNDS = 3;
/** How long the check waits for its second connection. */
const PROBE_TIMEOUT_MS = 10_000;

const verdicts = processSingleton('pinning-verdicts', () => new WeakMap<object, Pinning>());

interface PgConnection {
  /** The process id of BackendKeyData: PostgreSQL's own pid on a direct connection, a pooler's invention otherwise. */
  processID?: number | null;
  connection?: { stream?: { localPort?: number } };
}

async function backendPid(base: BaseQuery, connection: unknown): Promise<{ pid: number; port: number | null }> {
  const [row] = await sendInternal(base, connection, { sql: 'SELECT pg_backend_pid() AS pid, inet_client_port() AS port', bindings: [] });
  return { pid: Number(row?.pid), port: row?.port === null || row?.port === undefined ? null : Number(row.port) };
}

function rowsOf(result: unknown): Record<string, unknown>[] {
  const last = Array.isArray(result) ? result[result.length - 1] : result;
  return (last as { rows?: Record<string, unknown>[] } | undefined)?.rows ?? [];
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const controller = new AbortController();
  try {
    return await Promise.race([
      promise,
      sleepFor(ms, undefined, { signal: controller.signal }).then(() => {
        throw new Error(`${what} did not answer within ${ms / 1000}s`);
      }),
    ]);
  } finally {
    controller.abort();
  }
}

/**
 * The check itself. A direct connection is recognised at once: the pid PostgreSQL announced
 * at connection time is the session's, and the server sees the client's own port. Through
 * a pooler, a second connection opens a transaction (which holds a server connection in
 * every pool mode) between two statements of this one: under transaction pooling, either it
 * is served by the server connection this one just used (a pooler hands out the most recently
 * released one first), or this one moves to another server connection. Only statements that
 * set nothing are sent (`SELECT pg_backend_pid()`, `BEGIN`, `ROLLBACK`).
 */
async function check(client: Knex.Client, base: BaseQuery, connection: unknown): Promise<Pinning> {
  const pg = connection as PgConnection;
  const first = await backendPid(base, connection);
  const localPort = pg.connection?.stream?.localPort ?? null;
  if (pg.processID === first.pid && first.port === localPort) {
    return { pinned: true, evidence: `a direct connection (server process ${first.pid})` };
  }
  let side: SideConnection | null = null;
  try {
    side = await withTimeout(openSideConnection(client), PROBE_TIMEOUT_MS, 'a second connection');
    if (!side) return { pinned: false, evidence: 'a connection through a pooler whose mode could not be checked (no connection settings to open a second connection with)' };
    let previous = first.pid;
    for (let round = 0; round < PROBE_ROUNDS; round++) {
      const before = round === 0 ? previous : (await backendPid(base, connection)).pid;
      if (before !== previous) {
        return { pinned: false, evidence: `this connection was served by server process ${previous}, then by ${before}` };
      }
      const [row] = rowsOf(await withTimeout(side.query('BEGIN; SELECT pg_backend_pid() AS pid'), PROBE_TIMEOUT_MS, 'the second connection'));
      const other = Number(row?.pid);
      try {
        if (other === before) {
          return { pinned: false, evidence: `server process ${before} served this connection, then another client connection while this one was idle` };
        }
        const after = (await backendPid(base, connection)).pid;
        if (after !== before) {
          return { pinned: false, evidence: `this connection was served by server process ${before}, then by ${after}` };
        }
        previous = after;
      } finally {
        await side.query('ROLLBACK');
      }
    }
    return { pinned: true, evidence: `a session-pooled connection (server process ${previous} kept it across ${PROBE_ROUNDS} checks)` };
  } catch (error) {
    return { pinned: false, evidence: `a connection through a pooler whose mode could not be checked (${(error as Error).message})` };
  } finally {
    await side?.end().catch(() => undefined);
  }
}

/**
 * Whether `connection` is pinned to one PostgreSQL session, checked once per connection
 * (a pool mode does not change under a connection) and remembered.
 */
export async function pinningOf(client: Knex.Client, base: BaseQuery, connection: unknown): Promise<Pinning> {
  const key = connection as object;
  const known = verdicts.get(key);
  if (known) return known;
  const verdict = await check(client, base, connection);
  verdicts.set(key, verdict);
  return verdict;
}
