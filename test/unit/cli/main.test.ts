import test from 'ava';
import { main, PASSED_TO_KNEX, splitCommand } from '../../../src/cli/main.js';
import type { Output } from '../../../src/cli/output.js';

function capture(): Output & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, color: false, out: (line = '') => stdout.push(line), err: (line = '') => stderr.push(line) };
}

test('an unknown command exits 2 and lists the commands; knex commands it does not extend are passed to knex', async (t) => {
  const output = capture();
  t.is(await main(['nope'], output), 2);
  t.deepEqual(output.stdout, []);
  t.is(
    output.stderr.join('\n'),
    "Error: Unknown command \"nope\". knex-zd's commands: migrate:latest, migrate:rollback, migrate:up, migrate:down, migrate:status, migrate:plan, check, migrate:make, migrate:unlock, verify, init; " +
      "knex's, run by knex's CLI: migrate:to, migrate:before, migrate:currentVersion, seed:make, seed:run. Run knex-zd --help.",
  );
  t.deepEqual(PASSED_TO_KNEX, ['migrate:to', 'migrate:before', 'migrate:currentVersion', 'seed:make', 'seed:run']);
  const none = capture();
  t.is(await main(['--cwd', 'somewhere'], none), 2);
  t.regex(none.stderr.join('\n'), /^Error: No command given\. knex-zd's commands: /);
});

test("knex's flags may come before the command, as with knex's CLI", async (t) => {
  t.deepEqual(splitCommand(['--cwd', 'app', '--esm', 'migrate:latest', '--pre-deploy']), { name: 'migrate:latest', rest: ['--cwd', 'app', '--esm', '--pre-deploy'] });
  t.deepEqual(splitCommand(['--knexfile=k.js', 'migrate:status']), { name: 'migrate:status', rest: ['--knexfile=k.js'] });
  t.deepEqual(splitCommand(['-x', 'ts', 'init']), { name: 'init', rest: ['-x', 'ts'] });
  const usage = capture();
  t.is(await main(['--cwd', 'app', '--help'], usage), 0);
  t.regex(usage.stdout.join('\n'), /^knex-zd: knex migrations for zero-downtime deploys/);
  const output = capture();
  t.is(await main(['--env', 'production', 'migrate:latest', '--help'], output), 0);
  t.regex(output.stdout.join('\n'), /^Usage: knex-zd migrate:latest /);
  t.regex(output.stdout.join('\n'), /--migrations-table-name NAME {2}overrides migrations\.tableName/);
});

test("every command takes knex's global flags; the migrate commands that apply take --disable-transactions and --verbose", async (t) => {
  for (const name of ['migrate:latest', 'migrate:rollback', 'migrate:up', 'migrate:down', 'migrate:status', 'migrate:plan', 'check', 'migrate:make', 'migrate:unlock', 'verify', 'init']) {
    const output = capture();
    const code = await main([name, '--help', '--client', 'pg', '--connection', 'postgres://x/y', '--migrations-directory', 'm', '--migrations-table-name', 't', '--debug', '--esm', '--knexpath', 'k', '--specific', 's', '--timestamp-filename-prefix', '--env', 'e', '--cwd', '.', '--knexfile', 'k.js'], output);
    t.is(code, 0, `${name}: ${output.stderr.join('\n')}`);
  }
  for (const name of ['migrate:latest', 'migrate:rollback', 'migrate:up', 'migrate:down']) {
    const output = capture();
    t.is(await main([name, '--help', '--disable-transactions', '--verbose'], output), 0, `${name}: ${output.stderr.join('\n')}`);
  }
});
