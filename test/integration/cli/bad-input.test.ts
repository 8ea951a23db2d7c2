import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { PG_SERVER_URL, createTestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource, runCli } from '../../helpers/project.js';

const CREATE = `exports.up = (knex) => knex.schema.createTable('t', (t) => { t.increments('id'); });
exports.down = (knex) => knex.schema.dropTable('t');`;

async function tables(url: string): Promise<number> {
  const { default: knexFactory } = await import('knex');
  const knex = knexFactory({ client: 'pg', connection: url });
  try {
    const r = await knex.raw(`select count(*)::int as n from pg_tables where schemaname = 'public'`);
    return r.rows[0].n as number;
  } finally {
    await knex.destroy();
  }
}

test('no knexfile is an error, not a silent fallback', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'knex-zd-empty-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const result = await runCli(dir, ['migrate:latest']);
  t.is(result.code, 2);
  t.regex(result.stderr, /No knexfile found in .* \(looked for knexfile\.js, knexfile\.cjs, knexfile\.mjs, knexfile\.ts/);
  const missing = await runCli(dir, ['migrate:latest', '--knexfile', 'nope.js']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /--knexfile nope\.js: no such file/);
});

test('an unknown --env is an error that lists the environments', async (t) => {
  const db = await createTestDatabase('zd_bad');
  const project = await createProject({
    'knexfile.js': `module.exports = { development: ${knexfileSource(db.url).replace('module.exports = ', '').replace(/;\s*$/, '')}, production: { client: 'pg' } };`,
    'migrations/001_create.js': CREATE,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const result = await project.run(['migrate:latest', '--env', 'staging']);
  t.is(result.code, 2);
  t.regex(result.stderr, /has no "staging" environment \(it has: development, production\)/);
  t.is((await project.run(['migrate:status', '--env', 'development'])).code, 0);
});

test('a malformed zeroDowntime option names the option and the knexfile', async (t) => {
  const db = await createTestDatabase('zd_bad');
  const cases: Array<[string, RegExp]> = [
    [`{ stages: { fallback: 'during-deploy' } }`, /zeroDowntime\.stages\.fallback must be 'pre-deploy' or 'post-deploy'; got "during-deploy"/],
    [`{ timeouts: { lock: 'soon' } }`, /zeroDowntime\.timeouts\.lock must be a duration/],
    [`{ timeouts: { retries: -1 } }`, /zeroDowntime\.timeouts\.retries must be a whole number of at least 0/],
    [`{ quorum: { backend: 'zookeeper' } }`, /zeroDowntime\.quorum\.backend must be one of 'postgres', 'redis', 'memcached'/],
    [`{ checks: { 'create-index-blocking': 'fatal' } }`, /zeroDowntime\.checks\["create-index-blocking"\] must be 'error', 'warning' or 'off'/],
    [`{ stagez: {} }`, /zeroDowntime\.stagez is not an option of knex-zero-downtime/],
    [`{ quorum: { backend: 'redis', url: 'http://cache:6379' } }`, /zeroDowntime\.quorum\.url is not a URL of the redis backend: 'http:' is not redis: or rediss:/],
    [`'yes'`, /zeroDowntime must be an object; got "yes"/],
  ];
  t.teardown(() => db.drop());
  for (const [option, message] of cases) {
    const project = await createProject({ 'knexfile.js': knexfileSource(db.url, option), 'migrations/001_create.js': CREATE });
    const result = await project.run(['migrate:latest']);
    await project.remove();
    t.is(result.code, 2, option);
    t.regex(result.stderr, message, option);
    t.regex(result.stderr, /knexfile\.js/, option);
  }
  t.is(await tables(db.url), 0);
});

test('a migration that throws on import names its file and nothing is applied', async (t) => {
  const db = await createTestDatabase('zd_bad');
  const project = await createProject({
    'knexfile.js': knexfileSource(db.url),
    'migrations/001_create.js': CREATE,
    'migrations/002_broken.js': `throw new Error('syntax of the team');`,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const result = await project.run(['migrate:latest']);
  t.is(result.code, 1);
  t.regex(result.stderr, /\[migration-error\] 002_broken\.js: 002_broken\.js \(.*002_broken\.js\) could not be analysed: syntax of the team/);
  t.is(await tables(db.url), 0);
});

test('a migration without down is refused', async (t) => {
  const db = await createTestDatabase('zd_bad');
  const project = await createProject({
    'knexfile.js': knexfileSource(db.url),
    'migrations/001_create.js': `exports.up = (knex) => knex.schema.createTable('t', (t) => { t.increments('id'); });`,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const result = await project.run(['migrate:latest']);
  t.is(result.code, 1);
  t.regex(result.stderr, /\[missing-down\] 001_create\.js: 001_create\.js has no down function/);
  t.is(await tables(db.url), 0);
});

test('an invalid stage in a migration file is refused', async (t) => {
  const db = await createTestDatabase('zd_bad');
  const project = await createProject({
    'knexfile.js': knexfileSource(db.url),
    'migrations/001_create.js': `exports.config = { stage: 'predeploy' };\n${CREATE}`,
  });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const result = await project.run(['check']);
  t.is(result.code, 1);
  t.regex(result.stdout, /\[invalid-stage\] 001_create\.js/);
  t.regex(result.stdout, /declares config\.stage = "predeploy", which is not a stage/);
});

test('a knexfile that cannot connect is a one-paragraph error', async (t) => {
  const project = await createProject({
    'knexfile.js': knexfileSource('postgres://postgres@127.0.0.1:1/nowhere'),
    'migrations/001_create.js': CREATE,
  });
  t.teardown(() => project.remove());
  const result = await project.run(['migrate:latest']);
  t.is(result.code, 2);
  t.regex(result.stderr, /Cannot connect to PostgreSQL with the connection of .*knexfile\.js: .*ECONNREFUSED.*Nothing was changed\./s);
  // Only the message: no pool warning with its stack trace, on either stream.
  t.is(result.stdout, '');
  t.is(result.stderr.trim().split('\n').length, 1, result.stderr);

  const url = new URL(PG_SERVER_URL);
  url.pathname = '/zd_bad_no_such_database';
  await project.write('knexfile.js', knexfileSource(url.toString()));
  const missing = await project.run(['migrate:status']);
  t.is(missing.code, 2);
  t.is(missing.stdout, '');
  t.is(missing.stderr.trim(), `Error: Cannot connect to PostgreSQL with the connection of ${project.dir}/knexfile.js: database "zd_bad_no_such_database" does not exist. Nothing was changed. (SQLSTATE 3D000)`);
});

test("unknown flags and commands are refused; knex's other commands go to knex", async (t) => {
  const db = await createTestDatabase('zd_bad');
  const project = await createProject({ 'knexfile.js': knexfileSource(db.url), 'migrations/001_create.js': CREATE });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  const flag = await project.run(['migrate:latest', '--pre-deplo']);
  t.is(flag.code, 2);
  t.regex(flag.stderr, /Unknown option '--pre-deplo'/);
  const quorum = await project.run(['migrate:latest', '--quorum', 'three']);
  t.is(quorum.code, 2);
  t.regex(quorum.stderr, /--quorum must be the number of deployers that run this deploy, a whole number of at least 1; got "three"/);

  const command = await project.run(['migrate:frobnicate']);
  t.is(command.code, 2);
  t.regex(command.stderr, /^Error: Unknown command "migrate:frobnicate"\. knex-zd's commands: migrate:latest, /);

  const version = await project.run(['migrate:currentVersion']);
  t.is(version.code, 0, version.stderr);
  t.regex(version.stdout, /Current Version: none/);
});
