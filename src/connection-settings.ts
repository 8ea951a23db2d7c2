import type { Knex } from 'knex';

/**
 * The node-postgres settings of a knex client, password included, for a connection of knex-zd's
 * own (a blocker report, the pooling check, the shadow's set-up). knex keeps the password as a
 * hidden (non-enumerable) property that every copy of the settings loses, and knex's own
 * Migrator works on a clone of the knex instance (`withUserParams`) whose settings lack it; the
 * knexfile's connection (an object, or a URL) still has it. `null` when the settings cannot be
 * read (a connection function, say).
 * @internal
 */
export function connectionSettingsOf(client: Knex.Client): Record<string, unknown> | null {
  const settings = client.connectionSettings as unknown;
  if (typeof settings !== 'object' || settings === null) return null;
  const copy: Record<string, unknown> = { ...(settings as Record<string, unknown>) };
  const connection = (client.config as { connection?: unknown } | undefined)?.connection;
  let password = (settings as { password?: unknown }).password;
  if (password === undefined && typeof connection === 'object' && connection !== null) password = (connection as { password?: unknown }).password;
  if (password === undefined && typeof connection === 'string') {
    try {
      const url = new URL(connection);
      if (url.password !== '') password = decodeURIComponent(url.password);
    } catch {
      // not a URL (a libpq keyword string): its settings carry the password themselves
    }
  }
  if (password !== undefined) copy.password = password;
  return copy;
}
