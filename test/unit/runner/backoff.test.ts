import test from 'ava';
import sinon from 'sinon';
import { backoffDelay, retryDecision } from '../../../src/runner/backoff.js';
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
