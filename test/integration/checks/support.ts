import pg from 'pg';

/** A connection that keeps a transaction open after running `sql`, until `release()`. */
export interface Held {
  /** Runs more SQL in the held transaction and returns its rows. */
  query<T extends object>(sql: string): Promise<T[]>;
  /** The relation-level locks this transaction holds, as `relation → modes` (pg_locks' names, e.g. ShareLock). */
  locks(): Promise<Map<string, string[]>>;
  release(): Promise<void>;
}

/** Runs `sql` in a transaction on a connection of its own and keeps the transaction (and its locks) open. */
export async function hold(url: string, sql: string): Promise<Held> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  client.on('notice', () => {});
  try {
    await client.query('BEGIN');
    await client.query(sql);
  } catch (error) {
    await client.end();
    throw error;
  }
  return {
    async query<T extends object>(more: string) {
      return (await client.query<T>(more)).rows;
    },
    async locks() {
      const { rows } = await client.query<{ relation: string; mode: string }>(
        `SELECT c.relname AS relation, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
         WHERE l.pid = pg_backend_pid() AND l.granted AND c.relnamespace = 'public'::regnamespace ORDER BY 1, 2`,
      );
      const out = new Map<string, string[]>();
      for (const row of rows) out.set(row.relation, [...(out.get(row.relation) ?? []), row.mode]);
      return out;
    },
    async release() {
      try {
        await client.query('ROLLBACK');
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * Runs `sql` on another connection with a short lock_timeout: `'blocked'` when it had to wait
 * for a lock (SQLSTATE 55P03), `'ran'` when it completed.
 */
export async function tryWhileHeld(url: string, sql: string): Promise<'ran' | 'blocked'> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SET lock_timeout = '300ms'");
    await client.query('BEGIN');
    try {
      await client.query(sql);
      return 'ran';
    } catch (error) {
      if ((error as { code?: string }).code === '55P03') return 'blocked';
      throw error;
    } finally {
      await client.query('ROLLBACK');
    }
  } finally {
    await client.end();
  }
}

/** The error a statement fails with (its SQLSTATE and message), or null when it succeeds. */
export async function failureOf(url: string, sql: string): Promise<{ code: string; message: string } | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  client.on('notice', () => {});
  try {
    await client.query(sql);
    return null;
  } catch (error) {
    return { code: String((error as { code?: string }).code), message: (error as Error).message };
  } finally {
    await client.end();
  }
}
