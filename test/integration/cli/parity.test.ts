// knex CLI parity: what a new user meets when something is off (issue 11, item 8), through the
// real CLI. Every project analyses in capture mode: the shadow database is not the point here.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource, type CliResult, type TestProject } from '../../helpers/project.js';

const TABLE = (name: string) => `
exports.up = (knex) => knex.schema.createTable('${name}', (t) => { t.increments('id'); t.string('name'); });
exports.down = (knex) => knex.schema.dropTable('${name}');
`;

async function setup(
  t: ExecutionContext,
  files: Record<string, string>,
  zeroDowntime = '{ shadow: false }',
  migrations = "{ directory: './migrations' }",
): Promise<{ db: TestDatabase; project: TestProject }> {
  const db = await createTestDatabase('zd_parity');
  const project = await createProject({ 'knexfile.js': knexfileSource(db.url, zeroDowntime, migrations), ...files });
  t.teardown(async () => {
    await db.drop();
    await project.remove();
  });
  return { db, project };
}

/** The run printed exactly one JSON document on stdout: returns it. */
function onlyJson(t: ExecutionContext, result: CliResult): Record<string, any> {
  let parsed: unknown;
  t.notThrows(() => {
    parsed = JSON.parse(result.stdout);
  }, `stdout is not one JSON document: ${result.stdout}`);
  return parsed as Record<string, any>;
}

function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

test('an unknown check id in zeroDowntime.checks is a config error with a suggestion', async (t) => {
  const { db, project } = await setup(t, { 'migrations/001_users.js': TABLE('users') }, `{ shadow: false, checks: { 'missing-dwon': 'off' } }`);
  const typo = await project.run(['migrate:latest']);
  t.is(typo.code, 2);
  t.regex(typo.stderr, /zeroDowntime\.checks\["missing-dwon"\] names no check\. Did you mean "missing-down"\?/);
  t.regex(typo.stderr, /knexfile\.js/);

  await project.write('knexfile.js', knexfileSource(db.url, `{ shadow: false, checks: { 'no-such-check': 'off' } }`));
  const unknown = await project.run(['check']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /zeroDowntime\.checks\["no-such-check"\] names no check\. The ids are: migration-error, .*create-index-blocking/);
  t.deepEqual(await db.knex.raw(`select 1 from pg_tables where tablename = 'users'`).then((r) => r.rows), []);
});

test('a stages.override key that names no migration file is a config error naming the key and the folder', async (t) => {
  const { project } = await setup(
    t,
    { 'migrations/20250101000000_users.js': TABLE('users') },
    `{ shadow: false, stages: { override: { '20250101000000_users': 'post-deploy' } } }`,
  );
  const result = await project.run(['migrate:status']);
  t.is(result.code, 2);
  t.regex(
    result.stderr,
    /zeroDowntime\.stages\.override\["20250101000000_users"\] names no migration in \.\/migrations\. Did you mean "20250101000000_users\.js"\? Keys are migration file names with their extension/,
  );
});

test('a completed migration whose file is gone is an error, as in knex, unless disableMigrationsListValidation', async (t) => {
  const { db, project } = await setup(t, { 'migrations/001_users.js': TABLE('users'), 'migrations/002_items.js': TABLE('items') });
  t.is((await project.run(['migrate:latest'])).code, 0);
  await rm(path.join(project.dir, 'migrations/001_users.js'));
  await project.write('migrations/003_tags.js', TABLE('tags'));

  for (const args of [['migrate:status'], ['migrate:plan'], ['migrate:latest'], ['migrate:rollback'], ['migrate:up'], ['migrate:down']]) {
    const result = await project.run(args);
    t.is(result.code, 1, args.join(' '));
    t.regex(result.stderr, /The migration directory is corrupt, the following files are missing: 001_users\.js\. It is recorded as completed in knex_migrations/, args.join(' '));
  }
  const json = await project.run(['migrate:status', '--json']);
  t.is(json.code, 1);
  t.like(onlyJson(t, json), { ok: false, error: { code: 'ZD_MIGRATION', exitCode: 1, details: { missing: ['001_users.js'] } } });
  t.deepEqual(await db.knex('knex_migrations').orderBy('id').pluck('name'), ['001_users.js', '002_items.js']);

  await project.write('knexfile.js', knexfileSource(db.url, '{ shadow: false }', "{ directory: './migrations', disableMigrationsListValidation: true }"));
  const status = await project.run(['migrate:status']);
  t.is(status.code, 0, status.stderr);
  t.regex(status.stdout, /001_users\.js\s+missing\s+1\s+\(no file\)/);
  t.regex(status.stdout, /1 completed, 1 pending, 1 missing/);
  const plan = await project.run(['migrate:plan', '--json']);
  t.is(plan.code, 0, plan.stderr);
  t.deepEqual(onlyJson(t, plan).missing, ['001_users.js']);
});

test('migrate:down NAME: a name that does not exist, or that has not run, is a usage error that says which', async (t) => {
  const { db, project } = await setup(t, { 'migrations/001_users.js': TABLE('users'), 'migrations/002_items.js': TABLE('items') });
  t.is((await project.run(['migrate:up'])).code, 0);

  const nope = await project.run(['migrate:down', 'nope.js']);
  t.is(nope.code, 2);
  t.regex(nope.stderr, /The migration "nope\.js" does not exist in \.\/migrations\./);
  t.notRegex(nope.stderr, /recorded as completed|files are missing/);

  const typo = await project.run(['migrate:down', '001_user']);
  t.is(typo.code, 2);
  t.regex(typo.stderr, /The migration "001_user" does not exist in \.\/migrations\. Did you mean "001_users\.js"\?/);

  const up = await project.run(['migrate:up', '002_itemz.js']);
  t.is(up.code, 2);
  t.regex(up.stderr, /The migration "002_itemz\.js" does not exist in \.\/migrations\. Did you mean "002_items\.js"\?/);

  const pending = await project.run(['migrate:down', '002_items.js']);
  t.is(pending.code, 2);
  t.regex(pending.stderr, /The migration "002_items\.js" has not been run \(it is pending\), so there is nothing to revert/);
  t.deepEqual(await db.knex('knex_migrations').pluck('name'), ['001_users.js']);
});

test('--json prints one document in every outcome: success, a failed migration, a refusal, a config error; text prints the error once', async (t) => {
  const { db, project } = await setup(t, { 'migrations/001_users.js': TABLE('users') });
  const ok = await project.run(['migrate:latest', '--json']);
  t.is(ok.code, 0, ok.stderr);

  // Fails only when it runs (capture mode records the INSERT without sending it).
  await project.write('migrations/002_duplicate.js', `
exports.up = (knex) => knex.raw("insert into users (id, name) values (1, 'a'), (1, 'b')");
exports.down = () => {};
`);
  const failed = await project.run(['migrate:latest', '--json']);
  t.is(failed.code, 1);
  const document = onlyJson(t, failed);
  t.like(document, { ok: false, error: { code: 'ZD_MIGRATION', exitCode: 1, sqlState: '23505', details: { migration: '002_duplicate.js' } } });
  t.regex(document.error.message, /^The migration 002_duplicate\.js failed: insert into users .* duplicate key value violates unique constraint "users_pkey"$/);

  const text = await project.run(['migrate:latest']);
  t.is(text.code, 1);
  t.is(text.stdout, '');
  t.is(occurrences(text.stderr, 'duplicate key value'), 1, text.stderr);
  t.regex(text.stderr, /^Error: The migration 002_duplicate\.js failed: .* \(SQLSTATE 23505\)\n$/);

  await project.write('migrations/002_duplicate.js', `
exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.index(['name']); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.dropIndex(['name']); });
`);
  await project.write('knexfile.js', knexfileSource(db.url, '{ shadow: false, checks: { smallTable: 0 } }'));
  const refused = await project.run(['migrate:latest', '--json']);
  t.is(refused.code, 1);
  const refusal = onlyJson(t, refused);
  t.like(refusal, { ok: false, error: { code: 'ZD_CHECK_FAILED', exitCode: 1 } });
  t.deepEqual(refusal.error.details.findings.map((f: { code: string }) => f.code), ['create-index-blocking']);

  const plan = await project.run(['migrate:plan', '--json']);
  t.is(plan.code, 1);
  t.like(onlyJson(t, plan), { ok: false, errors: 1 });

  await project.write('knexfile.js', knexfileSource(db.url, `{ shadow: false, checks: { 'nope': 'off' } }`));
  for (const args of [['migrate:latest', '--json'], ['check', '--format', 'json'], ['migrate:rollback', '--json', '--bogus']]) {
    const bad = await project.run(args);
    t.is(bad.code, 2, args.join(' '));
    t.like(onlyJson(t, bad), { ok: false, error: { code: 'ZD_CONFIG', exitCode: 2 } }, args.join(' '));
  }
  t.deepEqual(await db.knex('knex_migrations').pluck('name'), ['001_users.js']);
  t.like(onlyJson(t, ok), { ok: true, batch: 1, migrations: ['001_users.js'] });
});

test('rollback --pre-deploy with nothing to revert before the code rollback says what is left, and --json lists it', async (t) => {
  const { db, project } = await setup(t, { 'migrations/001_users.js': TABLE('users'), 'migrations/002_items.js': TABLE('items') });
  t.is((await project.run(['migrate:latest'])).code, 0);

  const text = await project.run(['migrate:rollback', '--pre-deploy']);
  t.is(text.code, 0, text.stderr);
  t.notRegex(text.stdout, /Already at the base migration/);
  t.is(
    text.stdout,
    'Nothing to revert before the code rollback: 2 migrations of the last batch revert in post-deploy (after the code rollback):\n' +
      '  002_items.js\n  001_users.js\nRoll the code back, then run knex-zd migrate:rollback.\n',
  );
  const json = await project.run(['migrate:rollback', '--pre-deploy', '--json']);
  t.is(json.code, 0, json.stderr);
  t.deepEqual(onlyJson(t, json), {
    ok: true,
    batch: 0,
    migrations: [],
    left: [
      { name: '002_items.js', stage: 'post-deploy', waitsFor: null, reason: null },
      { name: '001_users.js', stage: 'post-deploy', waitsFor: null, reason: null },
    ],
  });
  t.deepEqual(await db.knex('knex_migrations').pluck('name'), ['001_users.js', '002_items.js']);
  const rest = await project.run(['migrate:rollback']);
  t.is(rest.code, 0, rest.stderr);
  t.deepEqual(await db.knex('knex_migrations').pluck('name'), []);
  const empty = await project.run(['migrate:rollback', '--pre-deploy']);
  t.regex(empty.stdout, /Already at the base migration: nothing to roll back\./);
});
