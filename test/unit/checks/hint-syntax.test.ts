import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { CHECKS, runChecks } from '../../../src/checks/index.js';
import { HINT_OPERATIONS, hintForModule, moduleKindOf } from '../../../src/checks/hint-syntax.js';
import { parseSettings } from '../../../src/config.js';
import * as operations from '../../../src/operations/index.js';
import { facts, report } from './support.js';

async function tree(t: { teardown(fn: () => Promise<void>): void }, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'knex-zd-hints-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), content);
  }
  return dir;
}

test('every operation builder of the package is known to the hints', (t) => {
  const exported = Object.entries(operations).filter(([, value]) => typeof value === 'function').map(([name]) => name);
  t.deepEqual([...HINT_OPERATIONS].sort(), exported.sort());
});

test('the module kind of a migration file follows node: the extension, else the nearest package.json', async (t) => {
  const dir = await tree(t, {
    'esm/package.json': '{ "type": "module" }',
    'esm/migrations/001.js': '',
    'cjs/package.json': '{ "name": "app" }',
    'cjs/migrations/001.js': '',
  });
  t.is(moduleKindOf(path.join(dir, 'esm/migrations/001.js')), 'esm');
  t.is(moduleKindOf(path.join(dir, 'cjs/migrations/001.js')), 'commonjs');
  t.is(moduleKindOf(path.join(dir, 'esm/migrations/002.cjs')), 'commonjs');
  t.is(moduleKindOf(path.join(dir, 'cjs/migrations/002.mjs')), 'esm');
  t.is(moduleKindOf(path.join(dir, 'cjs/migrations/002.ts')), 'esm');
  t.is(moduleKindOf(null), null);
});

test('a hint is written in the syntax of its module: require and exports in CommonJS, import and export in ES modules', (t) => {
  const hint = [
    "await addNullableColumn(knex, 'orders', 'c_new', 'text');",
    "await backfill(knex, 'orders', { c_new: knex.ref('c') }, { batchSize: 10000 });",
    "// in a later migration with export const config = { transaction: false };",
    "export async function up(knex) { await dropColumn(knex, 'orders', 'c'); }",
  ].join('\n');
  t.is(
    hintForModule(hint, 'commonjs'),
    [
      "const { addNullableColumn, dropColumn, backfill } = require('knex-zero-downtime');",
      "await addNullableColumn(knex, 'orders', 'c_new', 'text');",
      "await backfill(knex, 'orders', { c_new: knex.ref('c') }, { batchSize: 10000 });",
      '// in a later migration with exports.config = { transaction: false };',
      "exports.up = async function up(knex) { await dropColumn(knex, 'orders', 'c'); }",
    ].join('\n'),
  );
  t.is(hintForModule(hint, 'esm'), `import { addNullableColumn, dropColumn, backfill } from 'knex-zero-downtime';\n${hint}`);
  t.is(hintForModule(hint, null), hint);
  t.is(hintForModule("await knex.raw('REINDEX INDEX CONCURRENTLY i');", 'commonjs'), "await knex.raw('REINDEX INDEX CONCURRENTLY i');");
});

test('runChecks writes each finding\'s hint for its migration file', async (t) => {
  const dir = await tree(t, { 'package.json': '{ "type": "module" }' });
  const base = await report('001_index.js', ['CREATE INDEX orders_c ON orders (c)']);
  const hints = (file: string) =>
    runChecks([{ ...base, file: path.join(dir, file) }], parseSettings({}), CHECKS, facts({ orders: { rows: 2_000_000 } })).findings.map((f) => f.hint);
  t.deepEqual(hints('migrations/001_index.cjs'), [
    "const { addIndexConcurrently } = require('knex-zero-downtime');\nawait addIndexConcurrently(knex, 'orders', ['c'], { name: 'orders_c' });",
  ]);
  t.deepEqual(hints('migrations/001_index.js'), [
    "import { addIndexConcurrently } from 'knex-zero-downtime';\nawait addIndexConcurrently(knex, 'orders', ['c'], { name: 'orders_c' });",
  ]);
});
