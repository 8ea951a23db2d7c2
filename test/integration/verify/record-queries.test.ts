import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import knexFactory from 'knex';
import { recordQueries } from '../../../src/index.js';
import { ConfigError } from '../../../src/errors.js';
import { createTestDatabase } from '../../helpers/db.js';
import { baselineProject } from './support.js';

async function tempFile(t: { teardown(fn: () => Promise<void>): void }, name = 'queries.jsonl'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'zd-record-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return path.join(dir, name);
}

async function lines(file: string): Promise<unknown[]> {
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown);
}

test('records each distinct query once, as the driver receives it ($n), transactions included', async (t) => {
  const db = await createTestDatabase('zd_record');
  t.teardown(() => db.drop());
  const file = await tempFile(t);
  await db.knex.schema.createTable('users', (table) => {
    table.increments('id');
    table.text('name').notNullable();
    table.binary('avatar');
  });
  const recorder = recordQueries(db.knex, file);
  for (let i = 0; i < 5; i++) await db.knex('users').where('id', i).first();
  await db.knex('users').insert({ name: 'x'.repeat(300), avatar: Buffer.from('png') });
  await db.knex.transaction(async (trx) => {
    await trx('users').where({ name: 'Ada' }).update({ name: 'Grace' });
  });
  await db.knex.raw('select ?::int + ? as n', [1, 2]);
  recorder.stop();
  await db.knex('users').count();
  t.is(recorder.recorded, 6);
  t.is(recorder.dropped, 0);
  t.deepEqual(await lines(file), [
    { sql: 'select * from "users" where "id" = $1 limit $2', bindings: [0, 1] },
    { sql: 'insert into "users" ("avatar", "name") values ($1, $2)', bindings: [{ type: 'bytea', length: 3 }, `${'x'.repeat(200)}…`] },
    { sql: 'BEGIN;' },
    { sql: 'update "users" set "name" = $1 where "name" = $2', bindings: ['Grace', 'Ada'] },
    { sql: 'COMMIT;' },
    { sql: 'select $1::int + $2 as n', bindings: [1, 2] },
  ]);
});

test('bounded: past maxQueries the file says so once; long queries are left out; bindings can be left out; append or start afresh', async (t) => {
  const db = await createTestDatabase('zd_record');
  t.teardown(() => db.drop());
  const file = await tempFile(t);
  await writeFile(file, '{"sql":"select 0"}\n');
  const recorder = recordQueries(db.knex, file, { maxQueries: 2, maxSqlLength: 40, bindings: false });
  await db.knex.raw('select 1 as a');
  await db.knex.raw(`select 2 as b where ${'true and '.repeat(5)}true`);
  await db.knex.raw('select ? as c', [3]);
  await db.knex.raw('select 4 as d');
  await db.knex.raw('select 5 as e');
  recorder.stop();
  t.is(recorder.recorded, 2);
  t.is(recorder.dropped, 3);
  t.deepEqual(await lines(file), [
    { sql: 'select 0' },
    { sql: 'select 1 as a' },
    { sql: 'select $1 as c' },
    { truncated: 'the recording stopped at maxQueries (2): later distinct queries were not recorded' },
  ]);

  const fresh = recordQueries(db.knex, file, { append: false });
  await db.knex.raw('select 6 as f');
  fresh.stop();
  t.deepEqual(await lines(file), [{ sql: 'select 6 as f' }]);

  t.throws(() => recordQueries(db.knex, file, { maxQueries: 0 }), { instanceOf: ConfigError, message: 'recordQueries: maxQueries must be a whole number of at least 1; got 0.' });
  t.throws(() => recordQueries(db.knex, path.join(file, 'nope', 'q.jsonl')), { instanceOf: ConfigError, message: /^recordQueries: cannot open .*q\.jsonl for writing: ENOTDIR/ });
});

test('a recording that cannot be written stops by itself and never makes a query fail', async (t) => {
  const db = await createTestDatabase('zd_record');
  t.teardown(() => db.drop());
  const recorder = recordQueries(db.knex, '/dev/full');
  const result = await db.knex.raw('select 1 as one');
  t.deepEqual(result.rows, [{ one: 1 }]);
  t.regex(recorder.error?.message ?? '', /ENOSPC/);
  await db.knex.raw('select 2 as two');
  t.is(recorder.recorded, 0);
  t.is(db.knex.listenerCount('query'), 0);
});

test("the old release's recorded queries verify the next release: a pre-deploy rename is caught", async (t) => {
  const { db, project } = await baselineProject();
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  // The old release's test run, with its knex recording every query it sends.
  const app = knexFactory({ client: 'pg', connection: db.url, pool: { min: 0, max: 2 } });
  const recorder = recordQueries(app, path.join(project.dir, 'old.jsonl'));
  try {
    await app('users').where('id', 1).first('id', 'name');
    await app('users').insert({ name: 'Linus', legacy_name: 'linus' }).returning('id');
  } finally {
    recorder.stop();
    await app.destroy();
  }
  await project.write(
    'migrations/20250201000000_rename_name.js',
    `exports.config = { stage: 'pre-deploy' };
exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.renameColumn('name', 'full_name'); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.renameColumn('full_name', 'name'); });
`,
  );
  const result = await project.run(['verify', '--old-queries', 'old.jsonl']);
  t.is(result.code, 1, result.stderr + result.stdout);
  const lines = result.stdout.split('\n');
  t.true(
    lines.includes('  old SELECT (old.jsonl:1) fails after 20250201000000_rename_name.js (pre-deploy), while the old code still runs: 42703 column "name" does not exist'),
    result.stdout,
  );
  t.true(
    lines.includes('  old INSERT (old.jsonl:2) fails after 20250201000000_rename_name.js (pre-deploy), while the old code still runs: 42703 column "name" of relation "users" does not exist'),
    result.stdout,
  );
});
