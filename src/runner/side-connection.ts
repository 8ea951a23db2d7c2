import type { Knex } from 'knex';
import { connectionSettingsOf } from '../connection-settings.js';

/** The part of a node-postgres client that the runner uses on a connection of its own. */
export interface SideConnection {
  query(sql: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] } | { rows: Record<string, unknown>[] }[]>;
  end(): Promise<void>;
}

interface PgClientLike extends SideConnection {
  connect(): Promise<unknown>;
  on(event: 'error', listener: () => void): unknown;
}

/**
 * Opens a connection of its own with `client`'s settings, outside knex's pool (which may be
 * exhausted, or pinned to the very statement that waits). Nothing is set on it, not even an
 * `application_name`: pgbouncer in transaction pooling leaves a client's `application_name`
 * on the server connection for the next client that has none. Resolves to `null` when the
 * settings cannot be read (a connection function, say).
 */
export async function openSideConnection(client: Knex.Client): Promise<SideConnection | null> {
  const driver = client.driver as { Client?: new (settings: unknown) => PgClientLike } | undefined;
  const settings = connectionSettingsOf(client);
  if (!driver?.Client || settings === null) return null;
  const pg = new driver.Client(settings);
  pg.on('error', () => undefined);
  try {
    await pg.connect();
  } catch (error) {
    await pg.end().catch(() => undefined);
    throw error;
  }
  return pg;
}
