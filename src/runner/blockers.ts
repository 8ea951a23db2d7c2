import type { Knex } from 'knex';
import { openSideConnection, type SideConnection } from './side-connection.js';

/** A session that holds a lock the migration waits for. */
export interface BlockingProcess {
  readonly pid: number;
  /** `pg_stat_activity.state`, e.g. `'idle in transaction'`. */
  readonly state: string | null;
  /** Its last (or current) statement. */
  readonly query: string | null;
  /** How long its transaction (or, outside one, its query) has been running, in milliseconds. */
  readonly durationMs: number | null;
  readonly user: string | null;
  readonly applicationName: string | null;
  /** The lock modes it holds on the relation the migration waits for, e.g. `'RowExclusiveLock'`. */
  readonly locks: string | null;
}

/** The blockers of backend `pid`, from `pg_blocking_pids`, `pg_stat_activity` and `pg_locks`. */
export const BLOCKERS_SQL = `WITH waiting AS (
  SELECT relation FROM pg_catalog.pg_locks WHERE pid = $1 AND NOT granted AND relation IS NOT NULL
)
SELECT b.pid, b.state, b.query, b.usename AS user, b.application_name,
  (extract(epoch FROM clock_timestamp() - coalesce(b.xact_start, b.query_start, b.backend_start)) * 1000)::bigint AS duration_ms,
  (SELECT string_agg(DISTINCT l.mode, ', ') FROM pg_catalog.pg_locks l
    WHERE l.pid = b.pid AND l.granted AND l.relation IN (SELECT relation FROM waiting)) AS locks
FROM unnest(pg_catalog.pg_blocking_pids($1)) AS blocker(pid)
JOIN pg_catalog.pg_stat_activity b ON b.pid = blocker.pid
ORDER BY duration_ms DESC NULLS LAST`;

async function readBlockers(pg: SideConnection, pid: number): Promise<BlockingProcess[]> {
  const { rows } = (await pg.query(BLOCKERS_SQL, [pid])) as { rows: Record<string, unknown>[] };
  return rows.map((row) => ({
    pid: Number(row.pid),
    state: (row.state as string | null) ?? null,
    query: (row.query as string | null) ?? null,
    durationMs: row.duration_ms === null ? null : Number(row.duration_ms),
    user: (row.user as string | null) ?? null,
    applicationName: (row.application_name as string | null) ?? null,
    locks: (row.locks as string | null) ?? null,
  }));
}

/**
 * Reads the blockers of `pid` on a connection of its own: the pool may be exhausted, or
 * pinned to the very migration that is waiting.
 */
export async function findBlockers(client: Knex.Client, pid: number): Promise<BlockingProcess[]> {
  let pg: SideConnection | null = null;
  try {
    pg = await openSideConnection(client);
    return pg ? await readBlockers(pg, pid) : [];
  } catch {
    // The report is evidence for a message; failing to get it must not hide the real error.
    return [];
  } finally {
    await pg?.end().catch(() => undefined);
  }
}

/** A watch on a waiting backend, started before a statement that may wait for a lock. */
export interface BlockerWatch {
  /** Stops watching and gives the last non-empty snapshot. */
  stop(): Promise<BlockingProcess[]>;
}

/**
 * Takes snapshots of `pid`'s blockers while it waits: at a quarter, a half and three quarters
 * of the lock timeout. Once the timeout fires the lock wait is gone and `pg_blocking_pids` is
 * empty, so the evidence has to be gathered during the wait. The connection is opened at once:
 * opening one can take longer than a short lock timeout.
 */
export function watchBlockers(client: Knex.Client, pid: number, lockTimeoutMs: number): BlockerWatch {
  let last: BlockingProcess[] = [];
  let stopped = false;
  const connection = openSideConnection(client).catch(() => null);
  const pending: Promise<void>[] = [];
  const snapshot = () => {
    pending.push(
      connection.then(async (pg) => {
        if (!pg || stopped) return;
        const found = await readBlockers(pg, pid).catch(() => []);
        if (found.length > 0) last = found;
      }),
    );
  };
  const timers = [lockTimeoutMs / 4, lockTimeoutMs / 2, (3 * lockTimeoutMs) / 4].map((delay) => setTimeout(snapshot, delay));
  return {
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      stopped = true;
      await Promise.all(pending);
      await (await connection)?.end().catch(() => undefined);
      return last;
    },
  };
}
