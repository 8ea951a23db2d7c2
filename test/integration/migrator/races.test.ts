/**
 * Two real `knex-zd migrate:latest` processes on a fresh database, without --quorum: one applies,
 * the other waits for it (naming it) and finds nothing to do, or with --no-wait exits 1 at once.
 * `npm run stress:races -- 100` runs the same race many times.
 */
import os from 'node:os';
import test from 'ava';
import { createTestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource } from '../../helpers/project.js';
import { MigrationLock } from '../../../src/migrator/migration-lock.js';
import { startCli, waitUntil } from './support/cli-process.js';
import { createRaceProject, runRace } from './support/race.js';

const RACES = 10;

test(`${RACES} races of two migrate:latest on fresh databases: every migration applied once, both exit 0, no lock left`, async (t) => {
  const project = await createRaceProject();
  t.teardown(() => project.remove());
  let waited = 0;
  for (let i = 1; i <= RACES; i++) {
    // Capture mode in CI (the race is about the lock); npm run stress:races runs the default (shadow) mode.
    const outcome = await runRace(project, { shadow: false });
    const dump = outcome.runs.map((r, n) => `run ${n}: exit ${r.code}\n${r.stdout}${r.stderr}`).join('\n');
    t.is(outcome.verdict, 'ok', `race ${i}: ${outcome.problems.map((p) => `${p.kind}: ${p.detail}`).join('; ')}\n${dump}`);
    const [a, b] = outcome.runs;
    const appliers = [a, b].filter((r) => /^Batch 1 applied 3 migrations:/m.test(r.stdout));
    const idle = [a, b].filter((r) => /^Already up to date: no pending migrations\./m.test(r.stdout));
    t.is(appliers.length, 1, `race ${i}: one run applies\n${dump}`);
    t.is(idle.length, 1, `race ${i}: the other finds nothing to do\n${dump}`);
    if (/migration lock: held by/.test(idle[0]?.stderr ?? '')) {
      waited++;
      t.regex(idle[0].stderr, new RegExp(`^migration lock: held by ${os.hostname()} pid \\d+ \\(knex-zd migrate:latest\\), started \\S+ ago, lease renewed \\S+ ago; waiting for it`, 'm'));
    }
  }
  t.log(`${RACES} races: in ${waited} the second run waited for the first`);
});

test('--no-wait exits 1 at once naming the holder; without it the run waits, then finds nothing to do', async (t) => {
  const db = await createTestDatabase('zd_nowait');
  const project = await createProject({
    // Capture mode: the migration waits for a row of the target's gate table, which a shadow would never get.
    'knexfile.js': knexfileSource(db.url, '{ shadow: false }'),
    // Runs until the test opens the gate, however slow the machine is.
    'migrations/001_slow.js': `
exports.config = { stage: 'pre-deploy' };
exports.up = async (knex) => {
  await knex.raw('DO $$ BEGIN WHILE NOT EXISTS (SELECT 1 FROM gate) LOOP PERFORM pg_sleep(0.05); END LOOP; END $$');
  await knex.schema.createTable('slow', (t) => { t.increments('id'); });
};
exports.down = (knex) => knex.schema.dropTable('slow');
`,
  });
  await db.knex.raw('CREATE TABLE gate (open boolean)');
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const first = startCli(project.dir, ['migrate:latest']);
  await waitUntil('the first run to hold the lock', async () => (await db.knex.schema.hasTable('knex_zd_lock')) && (await db.knex('knex_zd_lock').first()));

  const refused = await project.run(['migrate:latest', '--no-wait']);
  t.is(refused.code, 1, refused.stderr);
  t.regex(
    refused.stderr,
    new RegExp(
      `^Error: Another run holds the migration lock: ${os.hostname()} pid ${first.child.pid} \\(knex-zd migrate:latest\\), started \\S+ ago, lease renewed \\S+ ago\\.\\n` +
        'Nothing was applied \\(--no-wait\\)\\. Let that run finish, or rerun without --no-wait to wait for it and then apply what is still pending\\.',
    ),
  );
  t.is(refused.stdout, '');

  const bounded = await project.run(['migrate:latest', '--lock-wait', '1']);
  t.is(bounded.code, 1, bounded.stderr);
  t.regex(bounded.stderr, /at most 1s; --no-wait to stop at once instead/);
  t.regex(bounded.stderr, new RegExp(`^Error: Waited 1s for the migration lock, held by ${os.hostname()} pid ${first.child.pid} \\(knex-zd migrate:latest\\)`, 'm'));

  const waiting = startCli(project.dir, ['migrate:latest']);
  await waitUntil('the second run to wait', () => /waiting for it/.test(waiting.stderr()));
  t.regex(waiting.stderr(), /waiting for it \(\S+ so far, at most 30min; --no-wait to stop at once instead\)/);
  await db.knex('gate').insert({ open: true });
  const waiter = await waiting.done;
  t.is(waiter.code, 0, waiter.stderr);
  t.regex(waiter.stderr, new RegExp(`^migration lock: held by ${os.hostname()} pid ${first.child.pid} \\(knex-zd migrate:latest\\)`, 'm'));
  t.regex(waiter.stderr, /^migration lock: acquired after waiting \S+/m);
  t.is(waiter.stdout.trim(), 'Already up to date: no pending migrations.');

  const done = await first.done;
  t.is(done.code, 0, done.stderr);
  t.regex(done.stdout, /^Batch 1 applied 1 migration:\n {2}001_slow\.js/);
  t.deepEqual(await db.knex('knex_zd_lock').select('*'), []);
  t.deepEqual(await db.knex('knex_migrations_lock').select('is_locked'), [{ is_locked: 0 }]);
});

test('bad lock flags are bad input (exit 2), before anything is touched', async (t) => {
  const db = await createTestDatabase('zd_nowait');
  const project = await createProject({ 'knexfile.js': knexfileSource(db.url), 'migrations/001_a.js': 'exports.up = async () => {}; exports.down = async () => {};' });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const both = await project.run(['migrate:latest', '--no-wait', '--lock-wait', '5']);
  t.is(both.code, 2);
  t.regex(both.stderr, /--no-wait and --lock-wait contradict each other/);
  const bad = await project.run(['migrate:rollback', '--lock-wait', 'soon']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--lock-wait must be a duration such as/);
  t.false(await db.knex.schema.hasTable('knex_zd_lock'));
});

test('with --quorum, the deployer that applies takes the migration lock like any other run', async (t) => {
  const db = await createTestDatabase('zd_qlock');
  const project = await createProject({
    'knexfile.js': knexfileSource(db.url, `{ quorum: { lease: '3s' } }`),
    'migrations/001_create.js': `exports.up = (knex) => knex.schema.createTable('events', (t) => { t.increments('id'); });
exports.down = (knex) => knex.schema.dropTable('events');`,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const other = await new MigrationLock(db.knex, { command: 'another deploy' }).acquire();
  const deployers = [0, 1].map(() => startCli(project.dir, ['migrate:latest', '--quorum', '2', '--quorum-timeout', '120']));
  await waitUntil('the applier to wait for the lock', () => deployers.some((d) => /migration lock: held by \S+ pid \d+ \(another deploy\)/.test(d.stderr())));
  t.false(await db.knex.schema.hasTable('events'), 'nothing is applied while another run holds the lock');
  await other.release();
  const results = await Promise.all(deployers.map((d) => d.done));
  for (const r of results) t.is(r.code, 0, r.stderr);
  t.is(results.filter((r) => /^Batch 1 applied 1 migration/m.test(r.stdout)).length, 1);
  t.is(results.filter((r) => /^Applied by another deployer/m.test(r.stdout)).length, 1);
  t.deepEqual(await db.knex('knex_migrations').pluck('name'), ['001_create.js']);
  t.deepEqual(await db.knex('knex_zd_lock').select('*'), []);
});
