import test from 'ava';
import pg from 'pg';
import { startEmbedded, type DemoServer } from '../../../examples/demo/database.js';
import { withClient } from '../../../src/analysis/shadow/shadow-database.js';
import { createProject, knexfileSource } from '../../helpers/project.js';
import { BASELINE, OLD_SQL, snapshot } from './support.js';

// A server that asks for a password (SCRAM), as production servers do: the demo's embedded PostgreSQL.
let server: DemoServer;
test.before(async () => {
  server = await startEmbedded();
});
test.after.always(async () => {
  await server?.stop();
});

test.serial('verify gets its shadow database on a server that asks for a password', async (t) => {
  await server.createDatabase('verify_password');
  const url = server.url('verify_password');
  t.regex(url, /^postgres:\/\/postgres:[^@]+@/);
  const project = await createProject({ 'knexfile.js': knexfileSource(url), ...BASELINE });
  t.teardown(() => project.remove());
  const baseline = await project.run(['migrate:latest']);
  t.is(baseline.code, 0, baseline.stderr);
  await project.write(
    'migrations/20250201000000_rename_name.js',
    `exports.config = { stage: 'pre-deploy' };
exports.up = (knex) => knex.schema.alterTable('users', (t) => { t.renameColumn('name', 'full_name'); });
exports.down = (knex) => knex.schema.alterTable('users', (t) => { t.renameColumn('full_name', 'name'); });
`,
  );
  await project.write('old.sql', OLD_SQL);
  const before = await snapshot(url);
  const result = await project.run(['verify', '--old-queries', 'old.sql']);
  t.is(result.code, 1, result.stderr + result.stdout);
  t.notRegex(result.stderr, /shadow/);
  t.regex(result.stdout, /old SELECT \(old\.sql:2\) fails after 20250201000000_rename_name\.js \(pre-deploy\)/);
  t.deepEqual(await snapshot(url), before);
});

test.serial('a connection refused during authentication is closed at once, not left open until the server times it out', async (t) => {
  const good = new URL(server.url('postgres'));
  const clients: pg.Client[] = [];
  class Spy extends pg.Client {
    constructor(settings: pg.ClientConfig) {
      super(settings);
      clients.push(this);
    }
  }
  const socket = (client: pg.Client) => (client as unknown as { connection: { stream: { destroyed: boolean } } }).connection.stream;
  // No password where the server asks for one (SCRAM): pg throws mid-handshake, in the client,
  // and the server would keep the connection for authentication_timeout (a minute): the process
  // could not exit before.
  const settings = { host: good.hostname, port: Number(good.port), user: good.username, database: 'postgres' };
  await t.throwsAsync(withClient(Spy as never, settings, () => Promise.resolve()), { message: /client password must be a string/ });
  const wrong = new URL(good);
  wrong.password = 'wrong';
  await t.throwsAsync(withClient(Spy as never, { connectionString: wrong.toString() }, () => Promise.resolve()), { message: /password authentication failed/ });
  t.is(clients.length, 2);
  for (let i = 0; clients.some((c) => !socket(c).destroyed) && i < 50; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  t.deepEqual(clients.map((c) => socket(c).destroyed), [true, true]);
});
