import test from 'ava';
import { ConfigError } from '../../../src/errors.js';
import { timeoutOverrides } from '../../../src/cli/flags.js';

test('--lock-timeout and --statement-timeout: a bare number is seconds, units are allowed, off and 0 turn it off, sub-millisecond is 1ms', (t) => {
  t.deepEqual(timeoutOverrides({ 'lock-timeout': '2', 'statement-timeout': '15min' }), { timeouts: { lock: 2_000, statement: 900_000 } });
  t.deepEqual(timeoutOverrides({ 'lock-timeout': '250ms' }), { timeouts: { lock: 250 } });
  t.deepEqual(timeoutOverrides({ 'lock-timeout': '0.4ms' }), { timeouts: { lock: 1 } });
  t.deepEqual(timeoutOverrides({ 'lock-timeout': '0.0001' }), { timeouts: { lock: 1 } });
  t.deepEqual(timeoutOverrides({ 'lock-timeout': 'off', 'statement-timeout': '0' }), { timeouts: { lock: false, statement: false } });
  t.deepEqual(timeoutOverrides({ retries: '3' }), { timeouts: { retries: 3 } });
  t.deepEqual(timeoutOverrides({}), {});
});

const bad: Array<[Record<string, string>, string]> = [
  [{ 'lock-timeout': '99999999h' }, '--lock-timeout must be at most 2147483647ms (about 24.8 days, the longest timeout PostgreSQL and Node.js timers accept); got "99999999h".'],
  [{ 'statement-timeout': '1000000000000' }, '--statement-timeout must be at most 2147483647ms (about 24.8 days, the longest timeout PostgreSQL and Node.js timers accept); got "1000000000000".'],
  [{ 'lock-timeout': 'soon' }, '--lock-timeout must be a duration such as 2s, 500ms, 15min or 1h (a bare number means seconds), or off; got "soon".'],
  [{ 'statement-timeout': '-1s' }, '--statement-timeout must be a duration such as 2s, 500ms, 15min or 1h (a bare number means seconds), or off; got "-1s".'],
];

for (const [flags, message] of bad) {
  test(`refuses ${JSON.stringify(flags)}`, (t) => {
    const error = t.throws(() => timeoutOverrides(flags), { instanceOf: ConfigError });
    t.is(error?.message, message);
  });
}
