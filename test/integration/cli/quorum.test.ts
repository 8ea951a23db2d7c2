import test from 'ava';
import { createTestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource } from '../../helpers/project.js';

const MIGRATIONS = {
  'migrations/001_create_events.js': `
exports.up = async (knex) => {
  await knex.schema.createTable('events', (t) => { t.increments('id'); t.text('what'); });
};
exports.down = (knex) => knex.schema.dropTable('events');
`,
  'migrations/002_add_source.js': `
exports.config = { stage: 'pre-deploy' };
exports.up = async (knex) => {
  await knex.schema.alterTable('events', (t) => { t.text('source'); });
  await knex('events').insert({ what: 'applied 002' });
};
exports.down = (knex) => knex.schema.alterTable('events', (t) => { t.dropColumn('source'); });
`,
};

for (const backend of ['postgres', 'redis'] as const) {
  test(`${backend}: 4 real knex-zd processes with --quorum 4 apply the plan exactly once`, async (t) => {
    const db = await createTestDatabase('zd_qcli');
    const quorum = backend === 'redis' ? `{ quorum: { backend: 'redis', url: 'redis://127.0.0.1:6379', lease: '3s' } }` : `{ quorum: { lease: '3s' } }`;
    const project = await createProject({ 'knexfile.js': knexfileSource(db.url, quorum), ...MIGRATIONS });
    t.teardown(async () => {
      await db.drop();
      await project.remove();
    });
    const runs = await Promise.all(
      Array.from({ length: 4 }, () => project.run(['migrate:latest', '--pre-deploy', '--quorum', '4', '--quorum-timeout', '60'])),
    );
    for (const run of runs) t.is(run.code, 0, run.stderr);
    const appliers = runs.filter((r) => /Batch 1 applied 2 pre-deploy migrations/.test(r.stdout));
    const waiters = runs.filter((r) => /Applied by another deployer/.test(r.stdout));
    t.is(appliers.length, 1);
    t.is(waiters.length, 3);
    for (const w of waiters) t.regex(w.stderr, /quorum: arrived as \d of 4/);
    t.deepEqual(await db.knex('knex_migrations').pluck('name'), ['001_create_events.js', '002_add_source.js']);
    t.deepEqual(await db.knex('events').pluck('what'), ['applied 002']);
  });
}

test('fewer deployers than --quorum time out with a clear error, and nothing is applied', async (t) => {
  const db = await createTestDatabase('zd_qcli');
  const project = await createProject({ 'knexfile.js': knexfileSource(db.url), ...MIGRATIONS });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const runs = await Promise.all(
    Array.from({ length: 2 }, () => project.run(['migrate:latest', '--quorum', '3', '--quorum-timeout', '8'])),
  );
  for (const run of runs) {
    t.is(run.code, 1);
    // On a busy machine the second deployer may arrive after the first gave up: 1 or 2 of 3.
    t.regex(run.stderr, /Error: .*only [12] of 3/s);
  }
  t.false(await db.knex.schema.hasTable('events'));
  const rerun = await Promise.all(Array.from({ length: 3 }, () => project.run(['migrate:latest', '--quorum', '3', '--quorum-timeout', '60'])));
  for (const run of rerun) t.is(run.code, 0, run.stderr);
  t.deepEqual(await db.knex('events').pluck('what'), ['applied 002']);
});

test('a quorum backend that is down is a clear error before anything is applied', async (t) => {
  const db = await createTestDatabase('zd_qcli');
  const project = await createProject({ 'knexfile.js': knexfileSource(db.url), ...MIGRATIONS });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const run = await project.run(['migrate:latest', '--quorum', '2', '--quorum-backend', 'redis', '--quorum-url', 'redis://127.0.0.1:1']);
  t.not(run.code, 0);
  t.regex(run.stderr, /redis/i);
  t.false(await db.knex.schema.hasTable('events'));
});
