import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { knexCliInvocation } from '../../../src/cli/passthrough.js';

test("knex's CLI gets knex-zd's TypeScript loader for a TypeScript knexfile, and --knexfile for one it does not look for", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'knex-zd-pass-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'sub'));
  const run = (args: string[], cwd = dir) => knexCliInvocation(args, cwd);

  await writeFile(path.join(dir, 'knexfile.js'), 'module.exports = {};');
  t.deepEqual(run(['seed:run']).node, []);
  t.deepEqual(run(['seed:run']).args.slice(1), ['seed:run']);
  t.regex(run(['seed:run']).args[0], /knex[/\\]bin[/\\]cli\.js$/);

  await writeFile(path.join(dir, 'sub', 'knexfile.ts'), 'export default {};');
  for (const args of [['seed:run', '--cwd', 'sub'], ['seed:run', '--cwd=sub'], ['--knexfile', 'sub/knexfile.ts', 'seed:run']]) {
    const { node } = run(args);
    t.is(node[0], '--import', args.join(' '));
    t.regex(node[1], /^file:.*tsx[/\\]dist[/\\]loader\.mjs$/);
  }
  t.deepEqual(run(['seed:run'], path.join(dir, 'sub')).args.slice(1), ['seed:run'], 'knex finds knexfile.ts by itself');

  await rm(path.join(dir, 'knexfile.js'));
  await writeFile(path.join(dir, 'knexfile.cjs'), 'module.exports = {};');
  t.deepEqual(run(['migrate:currentVersion']).args.slice(1), ['migrate:currentVersion', '--knexfile', path.join(dir, 'knexfile.cjs')]);
  t.deepEqual(run(['migrate:currentVersion', '--knexfile', 'knexfile.cjs']).args.slice(1), ['migrate:currentVersion', '--knexfile', 'knexfile.cjs']);
});
