import test from 'ava';
import type { Knex } from 'knex';
import { createTestDatabase } from '../../helpers/db.js';
import {
  addCheckConstraint,
  addColumnWithDefault,
  addForeignKey,
  addIndexConcurrently,
  addUniqueConstraint,
  backfill,
  setNotNull,
} from '../../../src/operations/index.js';
import { seedTable, sqlOf, startWriter } from './support.js';

const ROWS = 100_000;
// Generous: the writer must never wait for a table scan or an index build, only for brief catalog locks.
const STALL_LIMIT_MS = 2_000;

test('on a 100k-row table under concurrent writes, every operation completes without stalling the writer', async (t) => {
  const db = await createTestDatabase('zdbig');
  try {
    const { knex } = db;
    await seedTable(knex, 'items', ROWS);
    await knex.raw('CREATE TABLE owners (id bigint PRIMARY KEY)');
    await knex.raw('INSERT INTO owners SELECT g FROM generate_series(0, 1000) g');
    await knex.raw('ALTER TABLE items ADD COLUMN owner_id bigint');
    const writer = await startWriter(db.url, 'items');
    t.teardown(() => writer.stop().catch(() => undefined));
    const progress: number[] = [];
    await addColumnWithDefault(knex, 'items', 'flag', 'boolean', false, { notNull: true });
    await backfill(knex, 'items', { owner_id: knex.raw('n % 1000') }, { batchSize: 20_000, onProgress: (p) => progress.push(p.updated) });
    await addIndexConcurrently(knex, 'items', ['n']);
    await addUniqueConstraint(knex, 'items', ['note']);
    await addCheckConstraint(knex, 'items', 'items_n_positive', 'n >= 0');
    await addForeignKey(knex, 'items', ['owner_id'], 'owners', ['id']);
    await setNotNull(knex, 'items', 'note');
    const { longestStallMs, writes } = await writer.stop();
    t.log(`writer: ${writes} write pairs, longest stall ${longestStallMs.toFixed(1)}ms`);
    t.true(writes > 0);
    t.true(longestStallMs < STALL_LIMIT_MS, `longest stall ${longestStallMs}ms`);
    t.true(progress.length >= 5 && progress.at(-1)! >= ROWS);

    const indexes = await knex.raw<{ rows: { relname: string; indisvalid: boolean }[] }>(
      "SELECT c.relname, x.indisvalid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indrelid = 'items'::regclass ORDER BY 1",
    );
    t.deepEqual(indexes.rows, [
      { relname: 'items_n_index', indisvalid: true },
      { relname: 'items_note_unique', indisvalid: true },
      { relname: 'items_pkey', indisvalid: true },
    ]);
    const constraints = await knex.raw<{ rows: { conname: string; convalidated: boolean }[] }>(
      "SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'items'::regclass AND contype <> 'n' ORDER BY 1",
    );
    t.deepEqual(constraints.rows, [
      { conname: 'items_n_positive', convalidated: true },
      { conname: 'items_note_unique', convalidated: true },
      { conname: 'items_owner_id_foreign', convalidated: true },
      { conname: 'items_pkey', convalidated: true },
    ]);
    const notNull = await knex.raw<{ rows: { attname: string; attnotnull: boolean }[] }>(
      "SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname IN ('note', 'flag') ORDER BY 1",
    );
    t.deepEqual(notNull.rows, [
      { attname: 'flag', attnotnull: true },
      { attname: 'note', attnotnull: true },
    ]);
    const nulls = await knex.raw<{ rows: { missing: string }[] }>('SELECT count(*) AS missing FROM items WHERE owner_id IS NULL AND id <= ?', [ROWS]);
    t.is(nulls.rows[0].missing, '0');
  } finally {
    await db.drop();
  }
});

async function terminateWhenWaiting(knex: Knex, pattern: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const found = await knex.raw<{ rows: { pid: number }[] }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE ? AND wait_event_type IS NOT NULL AND pid <> pg_backend_pid() AND state = 'active'",
      [pattern],
    );
    const pid = found.rows[0]?.pid;
    if (pid) {
      await knex.raw('SELECT pg_terminate_backend(?)', [pid]);
      return pid;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no backend ran ${pattern}`);
}

test('an index build killed half-way leaves an INVALID index that the next run drops concurrently and rebuilds', async (t) => {
  const db = await createTestDatabase('zdkill');
  try {
    const { knex } = db;
    await seedTable(knex, 'items', 10_000);
    // An open transaction with a snapshot makes CREATE INDEX CONCURRENTLY wait in its last phase.
    const holder = await knex.client.acquireConnection();
    await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM items');
    const build = addIndexConcurrently(knex, 'items', ['n']).then(() => null, (error: unknown) => error);
    await terminateWhenWaiting(knex, 'CREATE INDEX CONCURRENTLY%');
    t.truthy(await build, 'the killed build fails');
    await holder.query('ROLLBACK');
    await knex.client.releaseConnection(holder);
    const invalid = await knex.raw<{ rows: { indisvalid: boolean }[] }>("SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_n_index'::regclass");
    t.false(invalid.rows[0].indisvalid);

    const rerun = await addIndexConcurrently(knex, 'items', ['n']);
    t.deepEqual(sqlOf(rerun), [
      'DROP INDEX CONCURRENTLY IF EXISTS "public"."items_n_index"',
      'CREATE INDEX CONCURRENTLY "items_n_index" ON "public"."items" ("n")',
    ]);
    const valid = await knex.raw<{ rows: { indisvalid: boolean }[] }>("SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_n_index'::regclass");
    t.true(valid.rows[0].indisvalid);
    t.is((await addIndexConcurrently(knex, 'items', ['n'])).steps.length, 0);
  } finally {
    await db.drop();
  }
});

test('a VALIDATE killed half-way resumes at VALIDATE on the next run', async (t) => {
  const db = await createTestDatabase('zdkill');
  try {
    const { knex } = db;
    await seedTable(knex, 'items', 10_000);
    // As if an earlier run stopped after its first step: the CHECK exists, NOT VALID.
    await knex.raw('ALTER TABLE items ADD CONSTRAINT items_n_not_null CHECK (n IS NOT NULL) NOT VALID');
    // SHARE UPDATE EXCLUSIVE lets writers through but makes VALIDATE wait, so it can be killed in flight.
    const holder = await knex.client.acquireConnection();
    await holder.query('BEGIN; LOCK TABLE items IN SHARE UPDATE EXCLUSIVE MODE');
    const running = setNotNull(knex, 'items', 'n', { native: false }).then(() => null, (error: unknown) => error);
    await terminateWhenWaiting(knex, '%VALIDATE CONSTRAINT%');
    t.truthy(await running, 'the killed VALIDATE fails');
    await holder.query('ROLLBACK');
    await knex.client.releaseConnection(holder);
    const check = await knex.raw<{ rows: { convalidated: boolean }[] }>("SELECT convalidated FROM pg_constraint WHERE conname = 'items_n_not_null'");
    t.false(check.rows[0].convalidated);

    const rerun = await setNotNull(knex, 'items', 'n', { native: false });
    t.deepEqual(sqlOf(rerun), [
      'ALTER TABLE "public"."items" VALIDATE CONSTRAINT "items_n_not_null"',
      'ALTER TABLE "public"."items" ALTER COLUMN "n" SET NOT NULL',
      'ALTER TABLE "public"."items" DROP CONSTRAINT "items_n_not_null"',
    ]);
    const column = await knex.raw<{ rows: { attnotnull: boolean }[] }>("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'n'");
    t.true(column.rows[0].attnotnull);
    t.is((await setNotNull(knex, 'items', 'n')).steps.length, 0);
  } finally {
    await db.drop();
  }
});
