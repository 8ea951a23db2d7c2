import test from 'ava';
import type { Knex } from 'knex';
import { DEFAULT_HOT_UPGRADE_MAX_STALENESS_MS } from '../../../src/config.js';
import { TypeRegistry } from '../../../src/hot-upgrade/type-registry.js';
import { withHotUpgrade } from '../../../src/hot-upgrade/with-hot-upgrade.js';

const base = { client: 'pg', connection: 'postgres://localhost/app' } satisfies Knex.Config;

type AfterCreate = (connection: unknown, done: (error: Error | null, connection: unknown) => void) => void;
const afterCreateOf = (config: Knex.Config) => config.pool!.afterCreate as AfterCreate;
const runAfterCreate = (config: Knex.Config, connection: unknown) =>
  new Promise<unknown>((resolve, reject) => afterCreateOf(config)(connection, (error, c) => (error ? reject(error) : resolve(c))));

test('returns a copy with the registry attached, not enumerable, and leaves the input alone', (t) => {
  const input = { ...base, pool: { min: 1, max: 4 } };
  const config = withHotUpgrade(input, { types: ['hstore'] });
  t.true(config.hotUpgrade instanceof TypeRegistry);
  t.false(Object.keys(config).includes('hotUpgrade'));
  t.is(config.client, 'pg');
  t.like(config.pool, { min: 1, max: 4 });
  t.deepEqual(input, { ...base, pool: { min: 1, max: 4 } });
  t.deepEqual(config.hotUpgrade.types.map((type) => type.name), ['hstore']);
});

test('maxStaleness: the option, else the knexfile setting, else 30s', (t) => {
  t.is(withHotUpgrade(base).hotUpgrade.maxStaleness, DEFAULT_HOT_UPGRADE_MAX_STALENESS_MS);
  t.is(withHotUpgrade({ ...base, zeroDowntime: { hotUpgrade: { maxStaleness: '5s' } } } as Knex.Config).hotUpgrade.maxStaleness, 5000);
  t.is(withHotUpgrade({ ...base, zeroDowntime: { hotUpgrade: true } } as Knex.Config, { maxStaleness: 250 }).hotUpgrade.maxStaleness, 250);
});

test('zeroDowntime.hotUpgrade: false turns it off: no pool hooks', (t) => {
  const input = { ...base, zeroDowntime: { hotUpgrade: false } } as Knex.Config;
  const config = withHotUpgrade(input, { types: ['hstore'] });
  t.is(config.pool, undefined);
  t.true(config.hotUpgrade instanceof TypeRegistry);
});

test("the user's afterCreate and validate still run, after the registry's", async (t) => {
  const calls: string[] = [];
  const config = withHotUpgrade({
    ...base,
    pool: {
      afterCreate(connection: unknown, done: (error: unknown, connection: unknown) => void) {
        calls.push('afterCreate');
        done(null, connection);
      },
      validate: () => {
        calls.push('validate');
        return false;
      },
    },
  });
  const connection = {};
  t.is(await runAfterCreate(config, connection), connection);
  t.false(await (config.pool.validate as unknown as (connection: unknown) => Promise<boolean>)(connection));
  t.deepEqual(calls, ['afterCreate', 'validate']);
});

test('a failed lookup on a new connection fails its creation with the HotUpgradeError', async (t) => {
  const config = withHotUpgrade(base, { types: ['hstore'] });
  const connection = { query: () => Promise.reject(new Error('boom')) };
  await t.throwsAsync(runAfterCreate(config, connection), { code: 'ZD_HOT_UPGRADE' });
});

test('refuses configs it cannot serve, naming the option', (t) => {
  t.throws(() => withHotUpgrade({ client: 'mysql2' }), {
    code: 'ZD_CONFIG',
    message: `withHotUpgrade() works with knex's 'pg' client (node-postgres); this config has client "mysql2".`,
  });
  t.throws(() => withHotUpgrade({ ...base, connectionPool: {} } as Knex.Config), { code: 'ZD_CONFIG', message: /connectionPool/ });
  const once = withHotUpgrade(base);
  t.throws(() => withHotUpgrade(once), { code: 'ZD_CONFIG', message: /already wrapped/ });
  t.throws(() => withHotUpgrade({ ...base, zeroDowntime: { hotUpgrade: { maxStaleness: 'soon' } } } as Knex.Config), {
    code: 'ZD_CONFIG',
    message: /zeroDowntime\.hotUpgrade\.maxStaleness/,
  });
  t.throws(() => withHotUpgrade(base, { types: ['geometry'] }), { code: 'ZD_CONFIG' });
});

test('onServerChange is a listener of the registry', (t) => {
  const listener = () => {};
  const config = withHotUpgrade(base, { onServerChange: listener });
  t.deepEqual(config.hotUpgrade.listeners('serverChange'), [listener]);
});
