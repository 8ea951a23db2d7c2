/** `npm run demo` without a server to run on: what to do, exit 2, no stack trace. */
import { execFile } from 'node:child_process';
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
