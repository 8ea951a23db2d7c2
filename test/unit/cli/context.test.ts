import test from 'ava';
import { ConfigError } from '../../../src/errors.js';
import { settingsOf } from '../../../src/cli/context.js';
import { timeoutOverrides } from '../../../src/cli/flags.js';
import type { LoadedKnexfile } from '../../../src/cli/knexfile.js';

function knexfile(zeroDowntime: unknown, file: string | null = '/app/knexfile.js'): LoadedKnexfile {
  return { path: file, environment: null, config: { client: 'pg', zeroDowntime } as never, overrides: [], knexFactory: () => undefined as never };
}

test('a flag that makes the knexfile option contradictory is named; an option wrong by itself names the knexfile', (t) => {
  const overrides = timeoutOverrides({ 'lock-timeout': '2s' });
  const byFlag = t.throws(() => settingsOf(knexfile({ timeouts: { maxBackoff: '500ms' } }), overrides, ['--lock-timeout 2s']), { instanceOf: ConfigError });
  t.is(
    byFlag?.message,
    '--lock-timeout 2s contradicts the zeroDowntime option of /app/knexfile.js: zeroDowntime.timeouts.maxBackoff (500ms) must not be shorter than zeroDowntime.timeouts.backoff (1000ms).',
  );
  const byKnexfile = t.throws(() => settingsOf(knexfile({ timeouts: { backoff: '10s', maxBackoff: '1s' } }), overrides, ['--lock-timeout 2s']), { instanceOf: ConfigError });
  t.is(byKnexfile?.message, 'zeroDowntime.timeouts.maxBackoff (1000ms) must not be shorter than zeroDowntime.timeouts.backoff (10000ms). (in /app/knexfile.js)');
  const noKnexfile = t.throws(() => settingsOf(knexfile({ stagez: {} }, null)), { instanceOf: ConfigError });
  t.regex(noKnexfile?.message ?? '', /\(in the --client\/--connection flags \(no knexfile\)\)$/);
});
