import test from 'ava';
import knexFactory from 'knex';
import { settingsOf, withDatabase } from '../../../src/analysis/shadow/shadow-database.js';

// knex hides the password of its connection settings (a non-enumerable property): a shadow
// database made from a copy of them must still carry it, or a server that asks for a password
// refuses the shadow and verify cannot run at all.
test("the shadow's connection settings keep the target's password", async (t) => {
  for (const connection of ['postgres://app:s3cret@127.0.0.1:5432/shop', { host: '127.0.0.1', user: 'app', password: 's3cret', database: 'shop' }]) {
    const knex = knexFactory({ client: 'pg', connection });
    try {
      const settings = settingsOf(knex)!;
      t.is(settings.password, 's3cret');
      t.is({ ...withDatabase(settings, 'knex_zd_shadow_x') }.password, 's3cret');
      t.is(withDatabase(settings, 'knex_zd_shadow_x').database, 'knex_zd_shadow_x');
    } finally {
      await knex.destroy();
    }
  }
});

test("the password survives knex's Migrator, whose clone of the knex instance has settings without it", async (t) => {
  const knex = knexFactory({ client: 'pg', connection: 'postgres://app:s3cret@127.0.0.1:5432/shop' });
  try {
    const migratorKnex = (knex.migrate as unknown as { knex: typeof knex }).knex;
    t.is((migratorKnex.client.connectionSettings as { password?: string }).password, undefined, 'knex loses it (if this changes, the fallback is no longer needed)');
    t.is(settingsOf(migratorKnex)!.password, 's3cret');
  } finally {
    await knex.destroy();
  }
});
