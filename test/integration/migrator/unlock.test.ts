/**
 * `knex-zd migrate:unlock`: releases the migration lock of a run that is gone (and knex's lock row
 * that it left), refuses a holder that looks alive unless --force.
 */
import os from 'node:os';
import test from 'ava';
import { createTestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource } from '../../helpers/project.js';
import { startCli, waitUntil } from './support/cli-process.js';

test('migrate:unlock refuses a live holder, releases it with --force, and releases a killed run’s lock and knex’s lock row', async (t) => {
  const db = await createTestDatabase('zd_unlock');
  const project = await createProject({
    // Capture mode: the migration waits for a row of the target's gate table, which a shadow would never get.
    'knexfile.js': knexfileSource(db.url, '{ shadow: false }'),
    // Outside a transaction, so that knex's lock row is committed while it runs.
    'migrations/001_gate.js': `
exports.config = { stage: 'pre-deploy', transaction: false };
exports.up = async (knex) => {
  await knex.raw('DO $$ BEGIN WHILE NOT EXISTS (SELECT 1 FROM gate) LOOP PERFORM pg_sleep(0.05); END LOOP; END $$');
};
exports.down = async () => {};
`,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  await db.knex.raw('CREATE TABLE gate (open boolean)');
  const holding = async () => (await db.knex.schema.hasTable('knex_zd_lock')) && (await db.knex('knex_zd_lock').first());

  const live = startCli(project.dir, ['migrate:latest']);
  await waitUntil('the run to hold the lock', async () => (await holding()) && /DO \$\$/.test(String((await db.knex.raw(`SELECT string_agg(query, ' ') AS q FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'`)).rows[0].q)));
  const refused = await project.run(['migrate:unlock']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, new RegExp(`^Error: The migration lock is held by a run that looks alive: ${os.hostname()} pid ${live.child.pid} \\(knex-zd migrate:latest\\)`));
  t.regex(refused.stderr, /knex-zd migrate:unlock --force/);
  t.truthy(await holding(), 'nothing was released');

  live.child.kill('SIGKILL');
  await live.done;
  t.deepEqual(await db.knex('knex_migrations_lock').select('is_locked'), [{ is_locked: 1 }]);
  const released = await project.run(['migrate:unlock']);
  t.is(released.code, 0, released.stderr);
  t.is(
    released.stdout,
    `Released the migration lock of ${os.hostname()} pid ${live.child.pid} (knex-zd migrate:latest), started ${/started (\S+) ago/.exec(released.stdout)?.[1]} ago: its process no longer runs.\n` +
      "Released knex's lock row (it was set).\n",
  );
  t.deepEqual(await db.knex('knex_zd_lock').select('*'), []);
  t.deepEqual(await db.knex('knex_migrations_lock').select('is_locked'), [{ is_locked: 0 }]);
  const nothing = await project.run(['migrate:unlock']);
  t.is(nothing.stdout, "Nothing to unlock: no run holds the migration lock, and knex's lock row is not set.\n");

  const again = startCli(project.dir, ['migrate:latest']);
  await waitUntil('the run to hold the lock', holding);
  const forced = await project.run(['migrate:unlock', '--force', '--json']);
  t.is(forced.code, 0, forced.stderr);
  t.like(JSON.parse(forced.stdout), { forced: true, released: { pid: again.child.pid, process: 'alive' } });
  again.child.kill('SIGKILL');
  await again.done;
});
