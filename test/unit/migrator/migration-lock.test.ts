import { spawnSync } from 'node:child_process';
import test from 'ava';
import { decideLockStep, type LockView } from '../../../src/migrator/lock-decision.js';
import { formatDuration, formatMigrationLockEvent, type LockHolder } from '../../../src/migrator/lock-events.js';
import { currentCommand, currentProcessKey, maskCommand, ownerProcessState } from '../../../src/migrator/lock-owner.js';
import { DEFAULT_LOCK_LEASE_MS, DEFAULT_LOCK_TABLE, DEFAULT_LOCK_WAIT_MS } from '../../../src/migrator/migration-lock.js';

const NOW = 1_000_000;

function view(overrides: Partial<LockView>): LockView {
  return { leaseExpired: false, ownerProcess: 'unknown', wait: true, now: NOW, deadline: NOW + 60_000, ...overrides };
}

test('waits for a live holder whose lease runs', (t) => {
  t.deepEqual(decideLockStep(view({})), { action: 'wait' });
  t.deepEqual(decideLockStep(view({ ownerProcess: 'alive' })), { action: 'wait' });
});

test('takes over at once when the holder ran on this machine and its process is gone, lease or not', (t) => {
  t.deepEqual(decideLockStep(view({ ownerProcess: 'gone' })), { action: 'take-over', reason: 'owner-gone' });
  t.deepEqual(decideLockStep(view({ ownerProcess: 'gone', leaseExpired: true })), { action: 'take-over', reason: 'owner-gone' });
  t.deepEqual(decideLockStep(view({ ownerProcess: 'gone', wait: false })), { action: 'take-over', reason: 'owner-gone' });
});

test('takes over an expired lease of a holder it cannot see (another machine)', (t) => {
  t.deepEqual(decideLockStep(view({ leaseExpired: true })), { action: 'take-over', reason: 'lease-expired' });
  t.deepEqual(decideLockStep(view({ leaseExpired: true, wait: false })), { action: 'take-over', reason: 'lease-expired' });
});

test('never takes over a holder whose process still runs on this machine, even past its lease (a starved heartbeat)', (t) => {
  t.deepEqual(decideLockStep(view({ leaseExpired: true, ownerProcess: 'alive' })), { action: 'wait' });
  t.deepEqual(decideLockStep(view({ leaseExpired: true, ownerProcess: 'alive', wait: false })), { action: 'give-up', reason: 'no-wait' });
});

test('gives up at once on a live holder without waiting, and after the deadline when waiting', (t) => {
  t.deepEqual(decideLockStep(view({ wait: false })), { action: 'give-up', reason: 'no-wait' });
  t.deepEqual(decideLockStep(view({ now: NOW + 60_000 })), { action: 'give-up', reason: 'timeout' });
  t.deepEqual(decideLockStep(view({ now: NOW + 59_999 })), { action: 'wait' });
});

test('the owner process state: this process is alive, a pid that does not exist is gone, another machine is unknown', (t) => {
  const self = currentProcessKey();
  if (self === null) {
    t.is(process.platform === 'linux', false, 'Linux has a process key');
    return;
  }
  t.is(ownerProcessState(self), 'alive');
  const machine = self.replace(/\/\d+\/\d+$/, '');
  // A process that ran and exited: its pid is free (or reused, with another start time).
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  t.is(ownerProcessState(`${machine}/${child.stdout}/1`), 'gone');
  t.is(ownerProcessState(`${machine}/${process.pid}/1`), 'gone', 'the same pid with another start time is another process');
  t.is(ownerProcessState(`00000000-0000-0000-0000-000000000000/pid:[1]/${process.pid}/1`), 'unknown');
  t.is(ownerProcessState(null), 'unknown');
  t.is(ownerProcessState('garbage'), 'unknown');
});

test('the command shown to other runs masks passwords in URLs and names the CLI knex-zd', (t) => {
  t.is(maskCommand('knex-zd migrate:latest --quorum-url redis://user:s3cret@redis:6379'), 'knex-zd migrate:latest --quorum-url redis://user:***@redis:6379');
  t.is(maskCommand('x postgres://app:p%40ss@db/app'), 'x postgres://app:***@db/app');
  t.is(maskCommand('a'.repeat(400)).length, 300);
  t.is(currentCommand(['/usr/bin/node', '/srv/app/node_modules/knex-zero-downtime/dist/cli/bin.js', 'migrate:latest', '--pre-deploy']), 'knex-zd migrate:latest --pre-deploy');
  t.is(currentCommand(['/usr/bin/node', '/srv/app/deploy.js', 'now']), 'deploy.js now');
});

test('durations read as people write them', (t) => {
  t.is(formatDuration(250), '250ms');
  t.is(formatDuration(12_400), '12s');
  t.is(formatDuration(184_000), '3min 4s');
  t.is(formatDuration(120_000), '2min');
  t.is(formatDuration(7_500_000), '2h 5min');
});

const holder: LockHolder = {
  host: 'deploy-1',
  pid: 4242,
  command: 'knex-zd migrate:latest',
  startedAgoMs: 125_000,
  renewedAgoMs: 95_000,
  expiresInMs: -65_000,
  process: 'unknown',
};

test('the messages of the lock events', (t) => {
  t.is(
    formatMigrationLockEvent({ type: 'waiting', holder: { ...holder, expiresInMs: 20_000, renewedAgoMs: 2000 }, waitedMs: 0, waitLimitMs: 1_800_000 }),
    'migration lock: held by deploy-1 pid 4242 (knex-zd migrate:latest), started 2min 5s ago, lease renewed 2s ago; ' +
      'waiting for it (0ms so far, at most 30min; --no-wait to stop at once instead)',
  );
  t.is(
    formatMigrationLockEvent({ type: 'took-over', previous: holder, reason: 'lease-expired', knexLock: { unlocked: 1, deleted: 0 } }),
    'migration lock: took over the lock of deploy-1 pid 4242 (knex-zd migrate:latest), started 2min 5s ago and last renewed 1min 35s ago: ' +
      "its lease expired 1min 5s ago; released knex's lock row that it left locked. " +
      'That run may have stopped half-way through a migration: the migrations that it did not record run again.',
  );
  t.is(
    formatMigrationLockEvent({ type: 'took-over', previous: holder, reason: 'owner-gone', knexLock: { unlocked: 0, deleted: 0 } }),
    'migration lock: took over the lock of deploy-1 pid 4242 (knex-zd migrate:latest), started 2min 5s ago and last renewed 1min 35s ago: ' +
      'its process is gone (pid 4242 no longer runs on this machine). ' +
      'That run may have stopped half-way through a migration: the migrations that it did not record run again.',
  );
  t.is(
    formatMigrationLockEvent({ type: 'waiting-for-leftovers', statements: [{ pid: 77, query: 'CREATE INDEX CONCURRENTLY "i" ON "t" ("c")', runningMs: 4200 }] }),
    'migration lock: waiting for a statement that may be the dead run\'s, still running on the server: pid 77 (4s): CREATE INDEX CONCURRENTLY "i" ON "t" ("c")',
  );
  t.is(formatMigrationLockEvent({ type: 'acquired', waitedMs: 0 }), null);
  t.is(formatMigrationLockEvent({ type: 'acquired', waitedMs: 3200 }), 'migration lock: acquired after waiting 3s');
  t.is(formatMigrationLockEvent({ type: 'released' }), null);
  t.regex(formatMigrationLockEvent({ type: 'lost', holder })!, /^migration lock: LOST\. The lease ran out before this run renewed it, and deploy-1 pid 4242/);
});

test('the documented defaults: a 30 s lease, 30 minutes of waiting, table knex_zd_lock', (t) => {
  t.is(DEFAULT_LOCK_LEASE_MS, 30_000);
  t.is(DEFAULT_LOCK_WAIT_MS, 30 * 60_000);
  t.is(DEFAULT_LOCK_TABLE, 'knex_zd_lock');
});
