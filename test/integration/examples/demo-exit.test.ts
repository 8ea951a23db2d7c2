/** `npm run demo`'s exit: without a server to run on (what to do, exit 2, no stack trace), and on Ctrl-C (nothing left). */
import { execFile, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { ROOT } from '../../helpers/project.js';

function demo(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'examples/demo/run.ts'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, output: stdout + stderr });
    });
  });
}

test('DATABASE_URL that refuses connections: exit 2 and what to do, no stack trace', async (t) => {
  const { code, output } = await demo({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/postgres' });
  t.is(code, 2, output);
  t.regex(output, /The demo cannot run here: cannot connect to DATABASE_URL \(postgres:\/\/postgres@127\.0\.0\.1:1\/postgres\): connect ECONNREFUSED 127\.0\.0\.1:1\. Unset DATABASE_URL to use an embedded PostgreSQL\./);
  t.notRegex(output, /^\s+at /m);
});

test('DATABASE_URL that is not a postgres:// URL: exit 2 and an example of one', async (t) => {
  const { code, output } = await demo({ DATABASE_URL: 'localhost:5432' });
  t.is(code, 2, output);
  t.regex(output, /The demo cannot run here: DATABASE_URL is not a postgres:\/\/ URL; expected e\.g\. postgres:\/\/user:password@host:5432\/postgres/);
});

test('Ctrl-C with the embedded server: exit 130, the server stopped, its folder and the working copy removed', async (t) => {
  // The demo's temporary folders go here; 0711: as root, the postgres user must pass through it.
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'zd-demo-tmp-'));
  await chmod(tmp, 0o711);
  t.teardown(() => rm(tmp, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo/run.ts', '--orders', '1000', '--customers', '100'], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', TMPDIR: tmp, DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let seen = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    const started = /^Release 0 /m.test(output);
    if (started && !seen) {
      seen = (readdirSync(tmp).filter((name) => !name.startsWith('tsx-'))).sort().join(' ');
      child.kill('SIGINT');
    }
  });
  t.is(await exited, 130, output);
  t.regex(output, /Interrupted: stopping the traffic and cleaning up/);
  t.regex(seen, /^knex-zd-demo-pg-\S+ knex-zd-shop-\S+$/, 'both folders existed when the signal came');
  t.deepEqual(readdirSync(tmp).filter((name) => !name.startsWith('tsx-')), []);
  t.notRegex(output, /^\s+at /m);
});
