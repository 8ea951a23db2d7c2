import test from 'ava';
import {
  DEFAULT_LOCK_TIMEOUT_MS,
  DEFAULT_QUORUM_TIMEOUT_MS,
  DEFAULT_RETRIES,
  DEFAULT_SMALL_TABLE_ROWS,
  DEFAULT_STATEMENT_TIMEOUT_MS,
  parseSettings,
} from '../../../src/config.js';
import { ConfigError } from '../../../src/errors.js';

test('defaults are complete and frozen', (t) => {
  const settings = parseSettings(undefined);
  t.deepEqual(settings.stages, { override: {}, fallback: 'pre-deploy', fallbackIsDefault: true });
  t.is(settings.timeouts.lock, DEFAULT_LOCK_TIMEOUT_MS);
  t.is(settings.timeouts.statement, DEFAULT_STATEMENT_TIMEOUT_MS);
  t.is(settings.timeouts.retries, DEFAULT_RETRIES);
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

const bad: Array<[unknown, string]> = [
  [[], 'zeroDowntime must be an object; got an array.'],
  [{ stages: { override: { 'a.js': 'later' } } }, `zeroDowntime.stages.override["a.js"] must be 'pre-deploy' or 'post-deploy'; got "later".`],
  [{ timeouts: { lock: '2 weeks' } }, `zeroDowntime.timeouts.lock must be a duration such as 500 (milliseconds), '500ms', '2s', '15min' or '1h'; got "2 weeks".`],
  [{ timeouts: { retries: 1.5 } }, 'zeroDowntime.timeouts.retries must be a whole number of at least 0; got number 1.5.'],
  [{ timeouts: { backoff: '10s', maxBackoff: '1s' } }, 'zeroDowntime.timeouts.maxBackoff (1000ms) must not be shorter than zeroDowntime.timeouts.backoff (10000ms).'],
  [{ quorum: { backend: 'redis' } }, `zeroDowntime.quorum.url is required for the 'redis' backend (e.g. 'redis://127.0.0.1:6379').`],
  [{ quorum: { url: '' } }, 'zeroDowntime.quorum.url must be a non-empty string; got "".'],
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
