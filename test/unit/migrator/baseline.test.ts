import test from 'ava';
import { runChecks } from '../../../src/checks/index.js';
import { parseSettings } from '../../../src/config.js';
import { ConfigError } from '../../../src/errors.js';
import { baselineNames } from '../../../src/migrator/baseline.js';
import { report } from '../checks/support.js';

const NAMES = ['20240101_create_users.js', '20240201_index_email.js', '20240301_add_bio.ts'];

test('startAfter exempts the named migration and every one before it, in knex order', (t) => {
  t.deepEqual([...baselineNames(NAMES, '20240201_index_email.js', 'migrations')], NAMES.slice(0, 2));
  t.deepEqual([...baselineNames(NAMES, '20240301_add_bio.ts', 'migrations')], NAMES);
  t.is(baselineNames(NAMES, null, 'migrations').size, 0);
});

test('startAfter matches a name without its extension when that is unambiguous', (t) => {
  t.deepEqual([...baselineNames(NAMES, '20240201_index_email', 'migrations')], NAMES.slice(0, 2));
  // The compiled name of a TypeScript migration (deployed as .js) names the same migration.
  t.deepEqual([...baselineNames(NAMES, '20240301_add_bio.js', 'migrations')], NAMES);
  const twice = ['001_a.js', '001_a.ts', '002_b.js'];
  t.throws(() => baselineNames(twice, '001_a', 'migrations'), { instanceOf: ConfigError });
});

test('a startAfter that names no migration is a config error naming the option and the near names', (t) => {
  const error = t.throws(() => baselineNames(NAMES, '20240201_index_emial.js', './migrations'), { instanceOf: ConfigError });
  t.regex(error.message, /zeroDowntime\.startAfter is "20240201_index_emial\.js", which is not a migration in \.\/migrations/);
  t.regex(error.message, /20240201_index_email\.js/);
  const none = t.throws(() => baselineNames([], 'x.js', './migrations'), { instanceOf: ConfigError });
  t.regex(none.message, /There are no migrations/);
});

test('startAfter must be a non-empty string', (t) => {
  t.is(parseSettings({}).startAfter, null);
  t.is(parseSettings({ startAfter: '001_a.js' }).startAfter, '001_a.js');
  for (const bad of ['', '  ', 42, null, ['001_a.js']]) {
    t.throws(() => parseSettings({ startAfter: bad }), { instanceOf: ConfigError, message: /zeroDowntime\.startAfter must be the name of a migration file/ });
  }
});

test('runChecks drops every finding of an exempt migration and lists the exempt ones', async (t) => {
  const settings = parseSettings({});
  const old = await report('001_old.js', ['CREATE INDEX users_note ON users (note)', 'ALTER TABLE users ALTER COLUMN age TYPE bigint']);
  const fresh = await report('002_new.js', ['CREATE INDEX users_bio ON users (bio)']);
  const all = runChecks([old, fresh], settings);
  t.true(all.findings.some((f) => f.migration === '001_old.js'));
  const baselined = runChecks([old, fresh], settings, undefined, undefined, new Set(['001_old.js']));
  t.false(baselined.findings.some((f) => f.migration === '001_old.js'));
  t.deepEqual(
    baselined.findings.map((f) => f.code),
    all.findings.filter((f) => f.migration === '002_new.js').map((f) => f.code),
  );
  t.deepEqual(baselined.exempt, ['001_old.js']);
  t.deepEqual(all.exempt, []);
});
