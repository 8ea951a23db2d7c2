import test from 'ava';
import sinon from 'sinon';
import { backoffDelay, isFinalAttempt, lockTimeoutFor, pauseAfter, retryDecision } from '../../../src/runner/backoff.js';
import { applyTimeoutsQuery, restoreTimeoutsQuery, timeoutValues } from '../../../src/runner/timeout-sql.js';
import { retryOnLockTimeout } from '../../../src/runner/retry.js';
import { LockTimeoutError } from '../../../src/errors.js';
import { parseSettings } from '../../../src/config.js';

const lockError = () => Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' });

test('backoff doubles from the first delay, caps at maxBackoff, and jitters between half and all of it', (t) => {
  const settings = { backoff: 1000, maxBackoff: 30_000 };
  t.deepEqual([1, 2, 3, 4, 5, 6, 7].map((r) => backoffDelay(r, settings, () => 1)), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  t.deepEqual([1, 2, 3].map((r) => backoffDelay(r, settings, () => 0)), [500, 1000, 2000]);
  t.is(backoffDelay(2, settings, () => 0.5), 1500);
  t.is(backoffDelay(1000, settings, () => 1), 30000);
});

test('only a lock timeout is retried, and only when the attempt was not the last', (t) => {
  t.is(retryDecision(lockError(), false), 'retry');
  t.is(retryDecision(lockError(), true), 'give-up');
  t.is(retryDecision(Object.assign(new Error('statement timeout'), { code: '57014' }), false), 'rethrow');
  t.is(retryDecision(new Error('boom'), false), 'rethrow');
  t.is(retryDecision(new Error('wrapped', { cause: lockError() }), false), 'retry');
});

test('timeout values: off leaves the server value, no-statement-timeout steps get 0', (t) => {
  const on = parseSettings({ timeouts: { lock: '2s', statement: '1min' } }).timeouts;
  const off = parseSettings({ timeouts: false }).timeouts;
  t.deepEqual(timeoutValues(on, on.lock, true), { lock: '2000ms', statement: '60000ms' });
  t.deepEqual(timeoutValues(on, on.lock, false), { lock: '2000ms', statement: '0' });
  t.deepEqual(timeoutValues(off, off.lock, true), { lock: null, statement: null });
  t.deepEqual(timeoutValues(off, off.lock, false), { lock: null, statement: '0' });
});

test('the SET queries: local inside a transaction, session with the previous values read first outside', (t) => {
  t.deepEqual(applyTimeoutsQuery({ lock: '2000ms', statement: '0' }, true), {
    sql: "SELECT pg_backend_pid() AS pid, prev.lock_timeout, prev.statement_timeout, set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true) FROM (SELECT current_setting('lock_timeout') AS lock_timeout, current_setting('statement_timeout') AS statement_timeout OFFSET 0) AS prev",
    bindings: ['2000ms', '0'],
  });
  t.deepEqual(applyTimeoutsQuery({ lock: null, statement: '5ms' }, false).bindings, ['5ms']);
  t.regex(applyTimeoutsQuery({ lock: null, statement: '5ms' }, false).sql, /set_config\('statement_timeout', \$1, false\) FROM/);
  t.deepEqual(restoreTimeoutsQuery({ lock_timeout: '0', statement_timeout: '1s' }).bindings, ['0', '1s']);
});

test('retryOnLockTimeout retries with the backoff schedule and gives up with a LockTimeoutError', async (t) => {
  const settings = parseSettings({ timeouts: { lock: '1s', retries: 3, backoff: '100ms', maxBackoff: '250ms' } });
  const sleep = sinon.stub().resolves();
  const run = sinon.stub().rejects(lockError());
  const error = await t.throwsAsync(
    retryOnLockTimeout(run, { context: { name: '20250101_x', direction: 'up', settings }, scope: 'statement', statement: () => 'ALTER TABLE "t" ADD COLUMN "c" int', sleep, random: () => 1 }),
    { instanceOf: LockTimeoutError },
  );
  t.is(run.callCount, 4);
  t.deepEqual(sleep.args.map((a) => a[0]), [100, 200, 250]);
  t.is(error.code, 'ZD_LOCK_TIMEOUT');
  t.is(error.sqlState, '55P03');
  t.is(error.details.attempts, 4);
  t.regex(error.message, /^Migration "20250101_x" \(up\) gave up waiting for a lock: the statement\n {2}ALTER TABLE "t" ADD COLUMN "c" int\ntimed out after lock_timeout 1000ms, 4 times over/);
  t.regex(error.message, /What to do: let the blocking transaction finish/);
});

test('retryOnLockTimeout succeeds after a lock timeout and never retries a statement timeout', async (t) => {
  const settings = parseSettings({ timeouts: { retries: 2, backoff: 1, maxBackoff: 1 } });
  const context = { name: 'm', direction: 'up' as const, settings };
  const flaky = sinon.stub();
  flaky.onFirstCall().rejects(lockError());
  flaky.onSecondCall().resolves('done');
  t.is(await retryOnLockTimeout(flaky, { context, scope: 'statement', statement: () => 'x', sleep: () => Promise.resolve() }), 'done');
  const slow = sinon.stub().rejects(Object.assign(new Error('statement timeout'), { code: '57014' }));
  await t.throwsAsync(retryOnLockTimeout(slow, { context, scope: 'statement', statement: () => 'x', sleep: () => Promise.resolve() }), { message: 'statement timeout' });
  t.is(slow.callCount, 1);
});

test('the attempts of a schedule: each has its lock_timeout, the last one repeats; off is null', (t) => {
  const policy = parseSettings({}).timeouts;
  t.deepEqual([1, 2, 3, 4, 5, 6, 50].map((n) => lockTimeoutFor(n, policy)), [100, 200, 300, 400, 500, 500, 500]);
  t.deepEqual([1, 7].map((n) => lockTimeoutFor(n, parseSettings({ timeouts: { lock: '2s' } }).timeouts)), [2000, 2000]);
  t.is(lockTimeoutFor(1, parseSettings({ timeouts: { lock: false } }).timeouts), null);
});

test('an attempt is final when no retry is left, or when even the shortest pause after it would start the next past total', (t) => {
  const fixed = parseSettings({ timeouts: { lock: '1s', retries: 2 } }).timeouts;
  t.deepEqual([1, 2, 3].map((n) => isFinalAttempt(n, 1e9, fixed)), [false, false, true]);
  const escalating = parseSettings({ timeouts: { total: '10s' } }).timeouts;
  // attempt 6 waits 500ms; its shortest pause is half of min(5s, 50ms × 2^5) = 800ms.
  t.false(isFinalAttempt(6, 10_000 - 500 - 800 - 1, escalating));
  t.true(isFinalAttempt(6, 10_000 - 500 - 800, escalating));
  t.true(isFinalAttempt(3, 0, parseSettings({ timeouts: { retries: 2 } }).timeouts));
});

test('a pause never starts the next attempt past total', (t) => {
  const escalating = parseSettings({ timeouts: { total: '10s' } }).timeouts;
  t.is(pauseAfter(10, 1_000, escalating, () => 1), 5_000);
  t.is(pauseAfter(10, 8_000, escalating, () => 1), 2_000);
  t.is(pauseAfter(10, 12_000, escalating, () => 1), 0);
  t.is(pauseAfter(10, 1e9, parseSettings({ timeouts: { lock: '1s' } }).timeouts, () => 1), 30_000);
});

test('the default policy, played on a clock: short growing waits, pauses from 50ms to 5s, and the error before 1min', async (t) => {
  const clock = sinon.useFakeTimers({ toFake: ['Date'] });
  t.teardown(() => clock.restore());
  const settings = parseSettings({});
  const attempts: { start: number; lock: number | null; final: boolean }[] = [];
  const pauses: number[] = [];
  const error = await t.throwsAsync(
    retryOnLockTimeout(
      (attempt) => {
        attempts.push({ start: Date.now(), lock: attempt.lockTimeout, final: attempt.final });
        clock.tick(attempt.lockTimeout ?? 0);
        return Promise.reject(lockError());
      },
      {
        context: { name: '20250101_x', direction: 'up', settings },
        scope: 'statement',
        statement: () => 'ALTER TABLE "t" ADD COLUMN "c" int',
        sleep: (ms) => {
          pauses.push(ms);
          clock.tick(ms);
          return Promise.resolve();
        },
        random: () => 1,
      },
    ),
    { instanceOf: LockTimeoutError },
  );
  t.deepEqual(attempts.map((a) => a.lock).slice(0, 8), [100, 200, 300, 400, 500, 500, 500, 500]);
  t.deepEqual(pauses.slice(0, 9), [50, 100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000]);
  t.is(attempts.length, 17);
  t.true(attempts.every((a) => a.start < 60_000));
  t.deepEqual(attempts.map((a) => a.final), [...Array(16).fill(false), true]);
  t.is(Date.now(), 58_850);
  t.is(error.details.attempts, 17);
  t.is(error.details.lockTimeoutMs, 500);
  t.regex(error.message, /\ntimed out after lock_timeout 500ms, 17 times over 59s \(the statement alone was retried; the waits grew from 100ms to 500ms\)\.\n/);
  t.regex(error.message, /\n {2}zeroDowntime: \{ timeouts: \{ total: '10min' \} \} {3}\/\/ the same short waits, for longer\n/);
});
