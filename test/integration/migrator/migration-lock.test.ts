/**
 * knex-zd's migration lock against the real PostgreSQL (and pgbouncer in transaction pooling):
 * one holder at a time, heartbeat renewal, takeover of a dead holder (lease expired, or process
 * gone on this machine) with knex's lock row, refusal of a knex lock row that no knex-zd run holds,
 * race-safe creation of the table, unlock, and the staged migrator holding it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { MigrationLockError } from '../../../src/errors.js';
import type { MigrationLockEvent } from '../../../src/migrator/lock-events.js';
import { currentProcessKey } from '../../../src/migrator/lock-owner.js';
import { MigrationLock } from '../../../src/migrator/migration-lock.js';
import { createStagedMigrator } from '../../../src/migrator/staged-migrator.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { startPgBouncer } from '../../helpers/pgbouncer.js';

async function database(t: { teardown(fn: () => Promise<void>): void }): Promise<TestDatabase> {
  const db = await createTestDatabase('zd_lock');
  t.teardown(() => db.drop());
  return db;
}

function recorder(): { events: MigrationLockEvent[]; onEvent: (e: MigrationLockEvent) => void } {
  const events: MigrationLockEvent[] = [];
  return { events, onEvent: (e) => events.push(e) };
}

async function lockRows(knex: Knex): Promise<Array<Record<string, unknown>>> {
  return knex('knex_zd_lock').select('*');
}

/** A lock row as another run would have left it. */
async function plantHolder(knex: Knex, holder: { host: string; pid: number; processKey: string | null; expiresInMs: number; startedAgoMs?: number }): Promise<void> {
  await knex.raw(MigrationLock.createTableSql('public'));
  await knex.raw(
    `INSERT INTO knex_zd_lock (name, owner, host, pid, process_key, command, started_at, renewed_at, expires_at)
     VALUES ('knex_migrations', 'planted', ?, ?, ?, 'knex-zd migrate:latest --pre-deploy',
             now() - ? * interval '1 millisecond', now() - interval '5 seconds', now() + ? * interval '1 millisecond')`,
    [holder.host, holder.pid, holder.processKey, holder.startedAgoMs ?? 60_000, holder.expiresInMs],
  );
}

/** Resolves once `check` holds (polling), or fails the test after 20 s. */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await sleep(20);
  }
}

async function createKnexLockTable(knex: Knex, rows: number[]): Promise<void> {
  await knex.raw('CREATE TABLE knex_migrations_lock ("index" serial PRIMARY KEY, is_locked integer)');
  for (const locked of rows) await knex('knex_migrations_lock').insert({ is_locked: locked });
}

test('one holder at a time: a run that must not wait is refused with the holder named, and the lock is free once released', async (t) => {
  const db = await database(t);
  const held = await new MigrationLock(db.knex, { command: 'knex-zd migrate:latest --pre-deploy' }).acquire();
  const rows = await lockRows(db.knex);
  t.is(rows.length, 1);
  t.like(rows[0], { name: 'knex_migrations', pid: process.pid, host: os.hostname(), command: 'knex-zd migrate:latest --pre-deploy' });

  const error = await t.throwsAsync(new MigrationLock(db.knex, { wait: false }).acquire(), { instanceOf: MigrationLockError });
  t.is(error?.code, 'ZD_MIGRATION_LOCK');
  t.regex(
    error?.message ?? '',
    new RegExp(
      `^Another run holds the migration lock: ${os.hostname()} pid ${process.pid} \\(knex-zd migrate:latest --pre-deploy\\), started \\S+ ago, lease renewed \\S+ ago\\.\\n` +
        'Nothing was applied \\(--no-wait\\)\\. Let that run finish, or rerun without --no-wait to wait for it and then apply what is still pending\\.$',
    ),
  );

  await held.release();
  t.deepEqual(await lockRows(db.knex), []);
  const again = await new MigrationLock(db.knex, { wait: false }).acquire();
  await again.release();
});

test('a waiting run reports the holder, and gets the lock as soon as it is released', async (t) => {
  const db = await database(t);
  const held = await new MigrationLock(db.knex, { command: 'first' }).acquire();
  const { events, onEvent } = recorder();
  const waiting = new MigrationLock(db.knex, { pollMs: 50, onEvent }).acquire();
  await until(() => events.length > 0);
  t.is(events[0]?.type, 'waiting');
  t.like(events[0], { type: 'waiting', holder: { command: 'first', pid: process.pid, process: 'alive' } });
  await held.release();
  const second = await waiting;
  const acquired = events.find((e) => e.type === 'acquired');
  t.true(acquired !== undefined && acquired.type === 'acquired' && acquired.waitedMs > 0);
  await second.release();
});

test('a bounded wait gives up with a message naming the holder', async (t) => {
  const db = await database(t);
  const held = await new MigrationLock(db.knex, { command: 'slow deploy' }).acquire();
  t.teardown(() => held.release());
  const error = await t.throwsAsync(new MigrationLock(db.knex, { waitTimeoutMs: 400, pollMs: 50 }).acquire(), { instanceOf: MigrationLockError });
  t.regex(error?.message ?? '', /^Waited \S+ for the migration lock, held by \S+ pid \d+ \(slow deploy\), started/);
  t.regex(error?.message ?? '', /Nothing was applied\. If that run is stuck, stop it/);
});

test('the heartbeat renews the lease: a holder with a 1s lease keeps it for seconds', async (t) => {
  const db = await database(t);
  const held = await new MigrationLock(db.knex, { leaseMs: 1000 }).acquire();
  const observer = new MigrationLock(db.knex);
  const renewals = new Set<string>();
  for (let i = 0; i < 12; i++) {
    await sleep(300);
    const holder = await observer.holder();
    t.truthy(holder);
    t.true(holder!.expiresInMs > 0, `the lease never runs out (sample ${i}: ${holder!.expiresInMs}ms left)`);
    renewals.add(String((await db.knex('knex_zd_lock').first('renewed_at')).renewed_at));
  }
  // Without renewals the 1s lease would have run out 3 times over; the count only shows it moved.
  t.true(renewals.size >= 3, `renewed ${renewals.size} times in 3.6s`);
  t.false(held.lost);
  await held.release();
  t.is(await observer.holder(), null);
});

test('lease expiry: the lock of a holder on another machine that stopped renewing is taken over once its lease ran out, and reported', async (t) => {
  const db = await database(t);
  await plantHolder(db.knex, { host: 'deploy-7', pid: 31337, processKey: 'other-boot/pid:[1]/31337/99', expiresInMs: 60_000 });
  await createKnexLockTable(db.knex, [1]);
  const { events, onEvent } = recorder();
  const acquiring = new MigrationLock(db.knex, { pollMs: 50, onEvent }).acquire();
  await until(() => events.length > 0);
  t.like(events[0], { type: 'waiting', holder: { host: 'deploy-7', pid: 31337, process: 'unknown' } });
  // Its heartbeat stops: the lease runs out 300ms from now.
  await db.knex.raw("UPDATE knex_zd_lock SET expires_at = now() + interval '300 milliseconds'");
  const stopped = Date.now();
  const held = await acquiring;
  t.true(Date.now() - stopped >= 250, `took over ${Date.now() - stopped}ms after the last renewal, not before its lease ran out`);
  const tookOver = events.find((e) => e.type === 'took-over');
  t.like(tookOver, {
    type: 'took-over',
    reason: 'lease-expired',
    previous: { host: 'deploy-7', pid: 31337, command: 'knex-zd migrate:latest --pre-deploy', process: 'unknown' },
    knexLock: { unlocked: 1, deleted: 0 },
  });
  t.deepEqual(await db.knex('knex_migrations_lock').select('is_locked'), [{ is_locked: 0 }], "knex's lock row that the dead run left is released");
  t.like((await lockRows(db.knex))[0], { pid: process.pid });
  await held.release();
});

test('a holder on this machine whose process is gone is taken over at once, without waiting for its lease', async (t) => {
  const key = currentProcessKey();
  if (key === null) return t.pass('no process key on this platform');
  const db = await database(t);
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const machine = key.replace(/\/\d+\/\d+$/, '');
  await plantHolder(db.knex, { host: os.hostname(), pid: Number(dead.stdout), processKey: `${machine}/${dead.stdout}/12345`, expiresInMs: 3_600_000 });
  const { events, onEvent } = recorder();
  const held = await new MigrationLock(db.knex, { wait: false, onEvent }).acquire();
  t.like(events.find((e) => e.type === 'took-over'), { reason: 'owner-gone', previous: { pid: Number(dead.stdout), process: 'gone' } });
  t.false(events.some((e) => e.type === 'waiting'));
  await held.release();
});

test('after a takeover, it waits for an index build that the dead run left running on the server, reporting it', async (t) => {
  const key = currentProcessKey();
  if (key === null) return t.pass('no process key on this platform');
  const db = await database(t);
  await db.knex.raw('CREATE TABLE t (id int PRIMARY KEY, x int)');
  // A writer's open transaction holds the concurrent build in its first phase, for as long as the test wants.
  const writer = new pg.Client({ connectionString: db.url });
  const builder = new pg.Client({ connectionString: db.url });
  await writer.connect();
  await builder.connect();
  t.teardown(async () => {
    await writer.end().catch(() => undefined);
    await builder.end().catch(() => undefined);
  });
  await writer.query('BEGIN');
  await writer.query('INSERT INTO t VALUES (1, 1)');
  const building = builder.query('CREATE INDEX CONCURRENTLY t_x_idx ON t (x)');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const machine = key.replace(/\/\d+\/\d+$/, '');
  await plantHolder(db.knex, { host: os.hostname(), pid: Number(dead.stdout), processKey: `${machine}/${dead.stdout}/12345`, expiresInMs: 3_600_000 });

  const { events, onEvent } = recorder();
  let acquired = false;
  const acquiring = new MigrationLock(db.knex, { pollMs: 50, onEvent }).acquire().then((held) => {
    acquired = true;
    return held;
  });
  await until(() => events.some((e) => e.type === 'waiting-for-leftovers'));
  const waitingFor = events.find((e) => e.type === 'waiting-for-leftovers');
  t.like(waitingFor, { statements: [{ query: 'CREATE INDEX CONCURRENTLY t_x_idx ON t (x)' }] });
  const buildPid = (
    await db.knex.raw<{ rows: Array<{ pid: number }> }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'CREATE INDEX CONCURRENTLY%'`)
  ).rows[0]?.pid;
  t.true(waitingFor?.type === 'waiting-for-leftovers' && waitingFor.statements[0]?.pid === buildPid);
  t.is(events[0]?.type, 'took-over');
  await sleep(300);
  t.false(acquired, 'it does not start while the build runs');
  await writer.query('COMMIT');
  await building;
  const held = await acquiring;
  await held.release();
});

test("knex's lock row set while no knex-zd run holds the lock (plain knex running?) is refused and left alone", async (t) => {
  const db = await database(t);
  await createKnexLockTable(db.knex, [1]);
  const error = await t.throwsAsync(new MigrationLock(db.knex).acquire(), { instanceOf: MigrationLockError });
  t.is(
    error?.message,
    "knex's migration lock (public.knex_migrations_lock) is set, but no knex-zd run holds the migration lock: " +
      'a plain `knex migrate:…` may be running right now, or one was killed and left it set. ' +
      'knex-zd cannot tell which, so it leaves it alone, and nothing was applied.\n' +
      'Wait for that run to finish. If you are sure that no migration is running:\n\n    knex-zd migrate:unlock\n',
  );
  t.deepEqual(await db.knex('knex_migrations_lock').select('is_locked'), [{ is_locked: 1 }]);
  t.deepEqual(await lockRows(db.knex), [], 'its own lock is released');
});

test("extra unlocked rows of knex's lock table (an old creation race) are repaired, since knex refuses to lock with two", async (t) => {
  const db = await database(t);
  await createKnexLockTable(db.knex, [0, 0]);
  const { events, onEvent } = recorder();
  const held = await new MigrationLock(db.knex, { onEvent }).acquire();
  await held.release();
  t.like(events.find((e) => e.type === 'knex-lock-repaired'), { deleted: 1 });
  t.deepEqual(await db.knex('knex_migrations_lock').select('is_locked'), [{ is_locked: 0 }]);
});

test('runs that create the lock table at the same time all succeed, one holder at a time', async (t) => {
  const db = await database(t);
  // One knex per run: separate pools, as separate processes would have.
  const knexes = Array.from({ length: 12 }, () => knexFactory({ client: 'pg', connection: db.url, pool: { min: 0, max: 2 } }));
  t.teardown(() => Promise.all(knexes.map((k) => k.destroy())).then(() => undefined));
  let inside = 0;
  let most = 0;
  await Promise.all(
    knexes.map(async (knex) => {
      const held = await new MigrationLock(knex, { pollMs: 20 }).acquire();
      inside++;
      most = Math.max(most, inside);
      await sleep(10);
      inside--;
      await held.release();
    }),
  );
  t.is(most, 1);
  t.deepEqual(await lockRows(db.knex), []);
});

test('unlock refuses a live holder (naming it) unless forced, releases a dead one, and resets knex’s lock row', async (t) => {
  const db = await database(t);
  const held = await new MigrationLock(db.knex, { command: 'knex-zd migrate:latest' }).acquire();
  const refused = await t.throwsAsync(new MigrationLock(db.knex).unlock(), { instanceOf: MigrationLockError });
  t.regex(refused?.message ?? '', /^The migration lock is held by a run that looks alive: \S+ pid \d+ \(knex-zd migrate:latest\)/);
  t.regex(refused?.message ?? '', /knex-zd migrate:unlock --force/);
  t.is((await lockRows(db.knex)).length, 1);
  const forced = await new MigrationLock(db.knex).unlock({ force: true });
  t.like(forced, { forced: true, released: { pid: process.pid } });
  t.deepEqual(await lockRows(db.knex), []);
  await held.release(); // deletes nothing: the row is gone

  await plantHolder(db.knex, { host: 'deploy-7', pid: 31337, processKey: null, expiresInMs: -1000 });
  await createKnexLockTable(db.knex, [1]);
  const released = await new MigrationLock(db.knex).unlock();
  t.like(released, { forced: false, released: { host: 'deploy-7', pid: 31337 }, knexLock: { unlocked: 1, deleted: 0 } });
  t.deepEqual(await db.knex('knex_migrations_lock').select('is_locked'), [{ is_locked: 0 }]);
  t.like(await new MigrationLock(db.knex).unlock(), { released: null, knexLock: { unlocked: 0, deleted: 0 } });
});

test('through pgbouncer in transaction pooling: the lock works and leaves no session state', async (t) => {
  const db = await database(t);
  const bouncer = await startPgBouncer({ target: { host: '127.0.0.1', port: 5432, database: db.name }, poolMode: 'transaction', poolSize: 2 });
  t.teardown(() => bouncer.stop());
  const knexes = Array.from({ length: 3 }, () => knexFactory({ client: 'pg', connection: bouncer.url, pool: { min: 0, max: 2 } }));
  t.teardown(() => Promise.all(knexes.map((k) => k.destroy())).then(() => undefined));

  let inside = 0;
  let most = 0;
  const sessions: Array<Record<string, unknown>> = [];
  await Promise.all(
    knexes.map(async (knex) => {
      const held = await new MigrationLock(knex, { leaseMs: 300, pollMs: 30 }).acquire();
      inside++;
      most = Math.max(most, inside);
      // Long enough for a few heartbeats through the pooler.
      await sleep(400);
      const state = await db.knex.raw(
        `SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))::int AS advisory,
                (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%')::int AS idle_in_transaction`,
      );
      sessions.push(state.rows[0]);
      inside--;
      t.false(held.lost);
      await held.release();
    }),
  );
  t.is(most, 1);
  t.deepEqual(sessions, Array(3).fill({ advisory: 0, idle_in_transaction: 0 }), 'no advisory lock, no transaction left open while holding');
  t.deepEqual(await lockRows(db.knex), []);
  // Every server connection that pgbouncer hands out keeps the server's defaults.
  const settings = await Promise.all(
    knexes.map((k) => k.raw(`SELECT current_setting('lock_timeout') AS lock, current_setting('statement_timeout') AS statement, current_setting('search_path') AS path`)),
  );
  for (const s of settings) t.deepEqual(s.rows[0], { lock: '0', statement: '0', path: '"$user", public' });
});

test('the staged migrator holds the lock around latest, planning included; library users get the waiting message through knex’s logger', async (t) => {
  const db = await database(t);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'knex-zd-lock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'migrations'));
  await writeFile(
    path.join(dir, 'migrations', '001_create.cjs'),
    `exports.up = (knex) => knex.schema.createTable('things', (t) => { t.increments('id'); });
exports.down = (knex) => knex.schema.dropTable('things');`,
  );
  const warnings: string[] = [];
  const knex = knexFactory({
    client: 'pg',
    connection: db.url,
    pool: { min: 0, max: 2 },
    migrations: { directory: path.join(dir, 'migrations'), loadExtensions: ['.cjs'] },
    log: { warn: (message: string) => warnings.push(message) },
  });
  t.teardown(() => knex.destroy());

  const held = await new MigrationLock(db.knex, { command: 'the other deployer' }).acquire();
  const refused = await t.throwsAsync(createStagedMigrator(knex).latest({ lock: { wait: false } }), { instanceOf: MigrationLockError });
  t.regex(refused?.message ?? '', /the other deployer/);
  t.false(await db.knex.schema.hasTable('things'));

  const waiting = createStagedMigrator(knex, { lock: { pollMs: 50 } }).latest();
  await until(() => warnings.length > 0);
  t.true(warnings.some((w) => /^migration lock: held by \S+ pid \d+ \(the other deployer\)/.test(w)), warnings.join('\n'));
  // The other deployer applies the migration, then releases: the waiter plans again and finds nothing to do.
  await db.knex.schema.createTable('things', (tb) => tb.increments('id'));
  await db.knex.schema.createTable('knex_migrations', (tb) => {
    tb.increments();
    tb.string('name');
    tb.integer('batch');
    tb.timestamp('migration_time');
  });
  await db.knex('knex_migrations').insert({ name: '001_create.cjs', batch: 1, migration_time: new Date() });
  await held.release();
  t.deepEqual(await waiting, [1, []]);
  t.deepEqual(await lockRows(db.knex), []);
});

test("the lock table lives beside knex's tables: in the migrator's schemaName when there is one", async (t) => {
  const db = await database(t);
  await db.knex.raw('CREATE SCHEMA deploy');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'knex-zd-lock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'migrations'));
  await writeFile(path.join(dir, 'migrations', '001_noop.cjs'), "exports.config = { stage: 'pre-deploy' };\nexports.up = async () => {};\nexports.down = async () => {};\n");
  const knex = knexFactory({
    client: 'pg',
    connection: db.url,
    pool: { min: 0, max: 2 },
    migrations: { directory: path.join(dir, 'migrations'), loadExtensions: ['.cjs'], schemaName: 'deploy' },
  });
  t.teardown(() => knex.destroy());
  const seen: Array<Record<string, unknown>> = [];
  await createStagedMigrator(knex).latest({
    lock: { onEvent: () => undefined },
    // Look at the lock table from inside the run, while it is held.
    ...({ beforeAll: async () => void seen.push(...(await db.knex.withSchema('deploy').from('knex_zd_lock').select('name', 'pid'))) } as object),
  });
  t.deepEqual(seen, [{ name: 'knex_migrations', pid: process.pid }]);
  const tables = await db.knex.raw(`SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_name LIKE 'knex%' ORDER BY 1`);
  t.deepEqual(tables.rows.map((r: { t: string }) => r.t), ['deploy.knex_migrations', 'deploy.knex_migrations_lock', 'deploy.knex_zd_lock']);
});
