import type { Knex } from 'knex';
import { parseSettings } from '../config.js';
import type { Duration } from '../duration.js';
import { ConfigError } from '../errors.js';
import type { TypeParsingClient } from './connection-types.js';
import type { TypeDefinition } from './type-definition.js';
import { TypeRegistry, type ServerChangeEvent } from './type-registry.js';

/** Options of {@link withHotUpgrade}. */
export interface HotUpgradeOptions {
  /** Types to keep parsed: built-in names (`'hstore'`, `'citext'`) or `{ name, parse, array? }` definitions. @default [] */
  types?: ReadonlyArray<TypeDefinition | string>;
  /**
   * Longest time a pooled connection keeps its OIDs before looking them up again (before its next query).
   * @default the knexfile's `zeroDowntime.hotUpgrade.maxStaleness`, else '30s'
   */
  maxStaleness?: Duration;
  /** Called when a connection finds another server than the last one seen (also the registry's `serverChange` event). */
  onServerChange?: (event: ServerChangeEvent) => void;
}

/** A knex config whose connections keep the registered type parsers right; its registry is `hotUpgrade`. */
export type HotUpgradeConfig<T extends Knex.Config = Knex.Config> = T & {
  /** The type registry of these connections: `registerType`, `on('serverChange')`, `server`. */
  readonly hotUpgrade: TypeRegistry;
};

const PG_CLIENTS = ['pg', 'postgres', 'postgresql'];

/**
 * Returns a copy of a knex config (client `'pg'`) whose connections parse the registered extension
 * types by name: each new connection looks their OIDs up once (one round trip, none when no type is
 * registered), and a pooled connection looks again before its next query once its lookup is older than
 * `maxStaleness`. When a server switch behind pgbouncer moves the OIDs, values are parsed right again
 * without restarting the process.
 *
 * The window: every query that acquires its connection more than `maxStaleness` after pgbouncer has
 * switched servers is parsed with the new server's OIDs. Before that, a pooled connection in
 * transaction pooling can still parse a new server's value with the old OIDs (a raw string, or another
 * type's parser); nothing in a result says which type a column really is, so the bounded re-check is the
 * contract. In session pooling a client keeps its server until it reconnects, and a new connection
 * looks its OIDs up before its first query, so there is no window. The check reads `pg_type` and
 * `server_version_num` itself, because the `server_version` that pgbouncer reports at login can be stale.
 *
 * Parsers are set per connection (node-postgres `client.setTypeParser`), never on the global `pg.types`.
 * The knexfile's `zeroDowntime.hotUpgrade` gives the default `maxStaleness`; `hotUpgrade: false` there
 * turns the feature off (the config comes back unchanged, with an inert registry).
 *
 * @example
 * ```ts
 * import knex from 'knex';
 * import { withHotUpgrade } from 'knex-zero-downtime';
 * import knexfile from './knexfile.js';
 *
 * const config = withHotUpgrade(knexfile, {
 *   types: ['hstore', 'citext', { name: 'vector', parse: (text) => JSON.parse(text) }],
 *   onServerChange: ({ previous, current, moved }) => logger.warn({ previous, current, moved }, 'database server changed'),
 * });
 * export const db = knex(config);
 * ```
 */
export function withHotUpgrade<T extends Knex.Config>(knexConfig: T, options: HotUpgradeOptions = {}): HotUpgradeConfig<T> {
  if (knexConfig === null || typeof knexConfig !== 'object') {
    throw new ConfigError('withHotUpgrade(knexConfig) needs a knex config object, such as the one a knexfile exports.');
  }
  if ('hotUpgrade' in knexConfig) {
    throw new ConfigError(
      'withHotUpgrade() was given a config that it already wrapped; wrap the knexfile config once and register more types on its registry:\n' +
        "  config.hotUpgrade.registerType('vector', (text) => JSON.parse(text));",
    );
  }
  if (typeof knexConfig.client !== 'string' || !PG_CLIENTS.includes(knexConfig.client)) {
    throw new ConfigError(
      `withHotUpgrade() works with knex's 'pg' client (node-postgres); this config has client ${JSON.stringify(
        typeof knexConfig.client === 'string' ? knexConfig.client : typeof knexConfig.client,
      )}.`,
      { details: { option: 'client' } },
    );
  }
  if ((knexConfig as { connectionPool?: unknown }).connectionPool !== undefined) {
    throw new ConfigError(
      "withHotUpgrade() cannot prepare the connections of an external pool (knex's connectionPool option), because knex " +
        'never runs pool.afterCreate and pool.validate for them; let knex create the pool from `connection` instead.',
      { details: { option: 'connectionPool' } },
    );
  }

  const rawZeroDowntime = (knexConfig as { zeroDowntime?: unknown }).zeroDowntime;
  const settings = parseSettings(rawZeroDowntime);
  const registry = new TypeRegistry({
    types: options.types ?? [],
    maxStaleness: options.maxStaleness ?? settings.hotUpgrade.maxStaleness,
  });
  if (options.onServerChange) registry.on('serverChange', options.onServerChange);

  const disabled = (rawZeroDowntime as { hotUpgrade?: unknown } | undefined)?.hotUpgrade === false;
  const pool = knexConfig.pool ?? {};
  const userAfterCreate = pool.afterCreate as ((connection: unknown, done: (error: unknown, connection: unknown) => void) => void) | undefined;
  const userValidate = pool.validate;

  const config: object = disabled
    ? { ...knexConfig }
    : {
        ...knexConfig,
        pool: {
          ...pool,
          // Runs once per new connection, before the user's own afterCreate, so that its queries already parse right.
          afterCreate(connection: TypeParsingClient, done: (error: unknown, connection: unknown) => void) {
            registry.prepareConnection(connection).then(
              () => (userAfterCreate ? userAfterCreate(connection, done) : done(null, connection)),
              (error: unknown) => done(error, connection),
            );
          },
          // knex validates a pooled connection each time it hands it out: the cheapest place to bound staleness.
          async validate(connection: TypeParsingClient) {
            if (!(await registry.revalidateConnection(connection))) return false;
            return userValidate ? userValidate(connection) : true;
          },
        },
      };
  // Not enumerable: logging or cloning the config must not walk into the registry.
  Object.defineProperty(config, 'hotUpgrade', { value: registry, enumerable: false });
  return config as HotUpgradeConfig<T>;
}
