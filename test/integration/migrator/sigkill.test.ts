/**
 * A `knex-zd migrate:latest` SIGKILLed in the middle of an operation (a concurrent index build, a
 * VALIDATE, a backfill), then a plain rerun: it takes the dead run's lock over at once (same
 * machine, process gone), says so, releases knex's lock row that the dead run left, and finishes
 * the migration. Never `migrate:unlock`. The end state is checked in the catalog.
 */
import os from 'node:os';
import test, { type ExecutionContext } from 'ava';
import type { Knex } from 'knex';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource, type CliResult, type TestProject } from '../../helpers/project.js';
import { seedTable } from '../operations/support.js';
import { startCli, waitUntil } from './support/cli-process.js';

interface Killed {
  readonly db: TestDatabase;
  readonly project: TestProject;
  readonly killedPid: number;
  readonly rerun: CliResult;
}

/** Starts migrate:latest, SIGKILLs it once `inFlight` says the operation runs, checks what it left, then reruns. */
async function killAndRerun(
  t: ExecutionContext,
  setup: (knex: Knex) => Promise<void>,
  migration: string,
  inFlight: (knex: Knex) => Promise<boolean>,
): Promise<Killed> {
  const db = await createTestDatabase('zd_kill');
  const project = await createProject({ 'knexfile.js': knexfileSource(db.url), 'migrations/001_operation.js': migration });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  await setup(db.knex);
  const run = startCli(project.dir, ['migrate:latest']);
  await waitUntil('the operation to be in flight', async () => {
    if (run.child.exitCode !== null) throw new Error(`the run ended before it could be killed:\n${run.stdout()}${run.stderr()}`);
    return inFlight(db.knex);
  }, 120_000, 10);
  run.child.kill('SIGKILL');
  const killed = await run.done;
  t.is(killed.signal, 'SIGKILL');
  const killedPid = run.child.pid!;

  // What the dead run left: its knex-zd lock row, and knex's lock row (the migration runs outside a transaction).
  t.like(await db.knex('knex_zd_lock').first(), { pid: killedPid, host: os.hostname(), command: 'knex-zd migrate:latest' });
  t.deepEqual(await db.knex('knex_migrations_lock').select('is_locked'), [{ is_locked: 1 }]);
  t.deepEqual(await db.knex('knex_migrations').pluck('name'), []);

  const rerun = await project.run(['migrate:latest']);
  t.is(rerun.code, 0, `${rerun.stdout}${rerun.stderr}`);
  t.regex(
    rerun.stderr,
    new RegExp(
      `^migration lock: took over the lock of ${os.hostname()} pid ${killedPid} \\(knex-zd migrate:latest\\), started \\S+( \\S+)? ago and last renewed \\S+( \\S+)? ago: ` +
        `its process is gone \\(pid ${killedPid} no longer runs on this machine\\); released knex's lock row that it left locked\\.`,
      'm',
    ),
  );
  t.regex(rerun.stdout, /^Batch 1 applied 1 migration:\n {2}001_operation\.js/);
  t.deepEqual(await db.knex('knex_migrations').pluck('name'), ['001_operation.js']);
  t.deepEqual(await db.knex('knex_zd_lock').select('*'), []);
  t.deepEqual(await db.knex('knex_migrations_lock').select('is_locked'), [{ is_locked: 0 }]);
  t.log(rerun.stderr.trim());
  return { db, project, killedPid, rerun };
}

async function active(knex: Knex, pattern: string): Promise<boolean> {
  const result = await knex.raw<{ rows: unknown[] }>(
    `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query ILIKE ? AND pid <> pg_backend_pid()`,
    [pattern],
  );
  return result.rows.length > 0;
}

test('SIGKILL during a concurrent index build: a plain rerun takes the lock over and leaves one valid index', async (t) => {
  const { db } = await killAndRerun(
    t,
    (knex) => seedTable(knex, 'big', 1_000_000),
    `const { addIndexConcurrently, dropIndexConcurrently } = require('knex-zero-downtime');
exports.up = (knex) => addIndexConcurrently(knex, 'big', ['note'], { name: 'big_note_idx' });
exports.down = (knex) => dropIndexConcurrently(knex, 'big_note_idx');
`,
    (knex) => active(knex, 'CREATE INDEX CONCURRENTLY%big_note_idx%'),
  );
  const index = await db.knex.raw(
    `SELECT i.indisvalid, i.indisready FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'big_note_idx%'`,
  );
  t.deepEqual(index.rows, [{ indisvalid: true, indisready: true }]);
});

test('SIGKILL during a VALIDATE: a plain rerun takes the lock over and leaves the constraint validated', async (t) => {
  const { db } = await killAndRerun(
    t,
    (knex) => seedTable(knex, 'big', 1_000_000),
    // Three md5s a row: a scan long enough to be caught in the middle.
    `const { addCheckConstraint } = require('knex-zero-downtime');
exports.up = (knex) => addCheckConstraint(knex, 'big', 'big_note_check', "note IS NULL OR md5(md5(md5(note))) <> ''");
exports.down = (knex) => knex.schema.alterTable('big', (t) => { t.dropChecks(['big_note_check']); });
`,
    (knex) => active(knex, '%VALIDATE CONSTRAINT%big_note_check%'),
  );
  const constraint = await db.knex.raw(`SELECT convalidated FROM pg_constraint WHERE conname = 'big_note_check'`);
  t.deepEqual(constraint.rows, [{ convalidated: true }]);
});

test('SIGKILL during a backfill: a plain rerun takes the lock over and backfills every row', async (t) => {
  const rows = 200_000;
  const { db } = await killAndRerun(
    t,
    async (knex) => {
      await seedTable(knex, 'big', rows);
      await knex.raw('ALTER TABLE big ADD COLUMN filled boolean');
    },
    `const { backfill } = require('knex-zero-downtime');
exports.config = { stage: 'pre-deploy', transaction: false };
exports.up = (knex) => backfill(knex, 'big', { filled: true }, { batchSize: 2000, pauseMs: 20 });
exports.down = async () => {};
`,
    async (knex) => {
      const done = Number((await knex.raw(`SELECT count(*) FILTER (WHERE filled) AS n FROM big`)).rows[0].n);
      return done >= rows * 0.1;
    },
  );
  const left = await db.knex.raw(`SELECT count(*) FILTER (WHERE filled IS NOT TRUE)::int AS missing, count(*)::int AS total FROM big`);
  t.deepEqual(left.rows, [{ missing: 0, total: rows }]);
});
