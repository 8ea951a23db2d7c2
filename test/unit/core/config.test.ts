import test from 'ava';
import {
  DEFAULT_LOCK_SCHEDULE_MS,
  DEFAULT_LOCK_TOTAL_MS,
  DEFAULT_QUORUM_TIMEOUT_MS,
  DEFAULT_SMALL_TABLE_ROWS,
  DEFAULT_STATEMENT_TIMEOUT_MS,
  parseSettings,
} from '../../../src/config.js';
import { ConfigError } from '../../../src/errors.js';

test('defaults are complete and frozen', (t) => {
  const settings = parseSettings(undefined);
  t.deepEqual(settings.stages, { override: {}, fallback: 'pre-deploy', fallbackIsDefault: true });
  t.deepEqual(settings.timeouts.lockSchedule, DEFAULT_LOCK_SCHEDULE_MS);
  t.is(settings.timeouts.lock, 500);
  t.is(settings.timeouts.statement, DEFAULT_STATEMENT_TIMEOUT_MS);
  t.is(settings.timeouts.retries, null);
  t.is(settings.timeouts.total, DEFAULT_LOCK_TOTAL_MS);
  t.is(settings.quorum.backend, 'postgres');
  t.is(settings.quorum.timeout, DEFAULT_QUORUM_TIMEOUT_MS);
  t.false(settings.hotUpgrade.enabled);
  t.true(Object.isFrozen(settings));
  t.true(Object.isFrozen(settings.timeouts));
  t.throws(() => {
    (settings.timeouts as { lock: number }).lock = 1;
  });
});

test('the contract example parses', (t) => {
  const settings = parseSettings({
    stages: { override: { '20250101_drop_legacy.js': 'post-deploy' }, fallback: null },
    timeouts: { lock: '2s', statement: '15min', retries: 5 },
    quorum: { backend: 'redis', url: 'redis://127.0.0.1:6379' },
    checks: { unsafe: 'error' },
    hotUpgrade: true,
  });
  t.is(settings.timeouts.lock, 2000);
  t.is(settings.timeouts.statement, 900_000);
  t.is(settings.stages.override['20250101_drop_legacy.js'], 'post-deploy');
  t.is(settings.quorum.url, 'redis://127.0.0.1:6379');
  t.is(settings.checks.unsafe, 'error');
  t.true(settings.hotUpgrade.enabled);
});

test('checks.smallTable: 10,000 rows by default, 0 turns it off, and it is no check id', (t) => {
  t.is(DEFAULT_SMALL_TABLE_ROWS, 10_000);
  t.is(parseSettings({}).smallTable, 10_000);
  t.is(parseSettings({ checks: { smallTable: 0 } }).smallTable, 0);
  const settings = parseSettings({ checks: { smallTable: 500, unsafe: 'warning' } });
  t.is(settings.smallTable, 500);
  t.deepEqual(settings.checks, { unsafe: 'warning' });
});

test('durations: numbers are milliseconds, strings carry units, false turns a timeout off', (t) => {
  t.is(parseSettings({ timeouts: { lock: 750 } }).timeouts.lock, 750);
  t.is(parseSettings({ timeouts: { lock: '500ms' } }).timeouts.lock, 500);
  t.is(parseSettings({ timeouts: { lock: '1.5s' } }).timeouts.lock, 1500);
  t.is(parseSettings({ timeouts: { statement: '1h' } }).timeouts.statement, 3_600_000);
  t.is(parseSettings({ timeouts: { lock: false } }).timeouts.lock, null);
  t.deepEqual(parseSettings({ timeouts: false }).timeouts.lock, null);
  t.is(parseSettings({ timeouts: false }).timeouts.retries, 0);
});

test('durations below a millisecond count as 1ms, never 0 (which would turn the timeout off); the largest PostgreSQL accepts passes', (t) => {
  t.is(parseSettings({ timeouts: { lock: '0.4ms' } }).timeouts.lock, 1);
  t.is(parseSettings({ timeouts: { lock: 0.0001 } }).timeouts.lock, 1);
  t.is(parseSettings({ timeouts: { statement: '0.0001s' } }).timeouts.statement, 1);
  t.is(parseSettings({ timeouts: { lock: '1.4ms' } }).timeouts.lock, 1);
  t.is(parseSettings({ timeouts: { lock: 2_147_483_647 } }).timeouts.lock, 2_147_483_647);
  t.is(parseSettings({ timeouts: { lock: 0 } }).timeouts.lock, null);
});

test('the lock schedule: absent, the escalating default; one duration, the earlier fixed policy; a list, escalating', (t) => {
  t.deepEqual(parseSettings({}).timeouts, {
    lock: 500,
    lockSchedule: [100, 200, 300, 400, 500],
    statement: 900_000,
    retries: null,
    backoff: 50,
    maxBackoff: 5_000,
    total: 60_000,
  });
  t.deepEqual(parseSettings({ timeouts: { lock: '2s' } }).timeouts, {
    lock: 2_000,
    lockSchedule: [2_000],
    statement: 900_000,
    retries: 5,
    backoff: 1_000,
    maxBackoff: 30_000,
    total: null,
  });
  t.deepEqual(parseSettings({ timeouts: { lock: ['50ms', '1s'], retries: 3, total: '2min' } }).timeouts, {
    lock: 1_000,
    lockSchedule: [50, 1_000],
    statement: 900_000,
    retries: 3,
    backoff: 50,
    maxBackoff: 5_000,
    total: 120_000,
  });
  t.deepEqual(parseSettings({ timeouts: { lock: false } }).timeouts.lockSchedule, []);
  t.is(parseSettings({ timeouts: { backoff: '10s' } }).timeouts.maxBackoff, 10_000);
});

const bad: Array<[unknown, string]> = [
  [[], 'zeroDowntime must be an object; got an array.'],
  [{ stages: { override: { 'a.js': 'later' } } }, `zeroDowntime.stages.override["a.js"] must be 'pre-deploy' or 'post-deploy'; got "later".`],
  [{ timeouts: { lock: '2 weeks' } }, `zeroDowntime.timeouts.lock must be a duration such as 500 (milliseconds), '500ms', '2s', '15min' or '1h'; got "2 weeks".`],
  [{ timeouts: { retries: 1.5 } }, 'zeroDowntime.timeouts.retries must be a whole number of at least 0; got number 1.5.'],
  [{ timeouts: { backoff: '10s', maxBackoff: '1s' } }, 'zeroDowntime.timeouts.maxBackoff (1000ms) must not be shorter than zeroDowntime.timeouts.backoff (10000ms).'],
  [{ timeouts: { lock: 1e12 } }, 'zeroDowntime.timeouts.lock must be at most 2147483647ms (about 24.8 days, the longest timeout PostgreSQL and Node.js timers accept); got 1000000000000.'],
  [{ timeouts: { statement: '99999999h' } }, 'zeroDowntime.timeouts.statement must be at most 2147483647ms (about 24.8 days, the longest timeout PostgreSQL and Node.js timers accept); got "99999999h".'],
  [{ timeouts: { lock: ['100ms', '25d'] } }, 'zeroDowntime.timeouts.lock[1] must be a duration such as 500 (milliseconds), \'500ms\', \'2s\', \'15min\' or \'1h\'; got "25d".'],
  [{ timeouts: { lock: ['100ms', '597h'] } }, 'zeroDowntime.timeouts.lock[1] must be at most 2147483647ms (about 24.8 days, the longest timeout PostgreSQL and Node.js timers accept); got "597h".'],
  [{ timeouts: { lock: [] } }, 'zeroDowntime.timeouts.lock must list at least one duration (or be one duration, or false to turn lock timeouts off).'],
  [{ timeouts: { lock: ['100ms', 0] } }, 'zeroDowntime.timeouts.lock[1] must be longer than 0: a lock_timeout of 0 waits for ever, queueing every later query on the table behind the migration. Leave it out, or turn lock timeouts off with zeroDowntime.timeouts.lock: false.'],
  [{ timeouts: { total: 'soon' } }, `zeroDowntime.timeouts.total must be a duration such as 500 (milliseconds), '500ms', '2s', '15min' or '1h'; got "soon".`],
  [{ quorum: { timeout: 3e9 } }, 'zeroDowntime.quorum.timeout must be at most 2147483647ms (about 24.8 days, the longest timeout PostgreSQL and Node.js timers accept); got 3000000000.'],
  [{ quorum: { backend: 'redis' } }, `zeroDowntime.quorum.url is required for the 'redis' backend (e.g. 'redis://127.0.0.1:6379').`],
  [{ quorum: { url: '' } }, 'zeroDowntime.quorum.url must be a non-empty string; got "".'],
  [{ quorum: { backend: 'redis', url: 'http://cache:6379' } }, `zeroDowntime.quorum.url is not a URL of the redis backend: 'http:' is not redis: or rediss: (e.g. 'redis://127.0.0.1:6379').`],
  [{ quorum: { backend: 'redis', url: 'cache:6379' } }, `zeroDowntime.quorum.url is not a URL of the redis backend: 'cache:' is not redis: or rediss: (e.g. 'redis://127.0.0.1:6379').`],
  [{ quorum: { backend: 'memcached', url: 'cache:99999' } }, `zeroDowntime.quorum.url is not a URL of the memcached backend: port 99999 is out of range (e.g. '127.0.0.1:11211').`],
  [{ hotUpgrade: { every: 1 } }, 'zeroDowntime.hotUpgrade.every is not an option of knex-zero-downtime; the options are: maxStaleness.'],
  [{ checks: { smallTable: -1 } }, 'zeroDowntime.checks.smallTable must be a whole number of at least 0; got number -1.'],
  [{ checks: { smallTable: '10k' } }, 'zeroDowntime.checks.smallTable must be a whole number of at least 0; got "10k".'],
];

for (const [input, message] of bad) {
  test(`rejects ${JSON.stringify(input)}`, (t) => {
    const error = t.throws(() => parseSettings(input), { instanceOf: ConfigError });
    t.is(error?.message, message);
    t.is(error?.code, 'ZD_CONFIG');
  });
}
