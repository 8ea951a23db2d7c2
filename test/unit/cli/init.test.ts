import { runInNewContext } from 'node:vm';
import test from 'ava';
import { parseSettings } from '../../../src/config.js';
import { knexfileTemplate } from '../../../src/cli/commands/init.js';

/** The zeroDowntime block of a template, evaluated as it is or with every commented option uncommented. */
function zeroDowntimeBlock(source: string, uncomment: boolean): unknown {
  const block = /\n {2}zeroDowntime: (\{[\s\S]*?\n {2}\}),\n/.exec(source)?.[1];
  if (!block) throw new Error('no zeroDowntime block');
  const code = uncomment ? block.replace(/^(\s*)\/\/ (\w+:)/gm, '$1$2') : block;
  return runInNewContext(`(${code})`);
}

test('the commented zeroDowntime options of the init knexfile are valid once uncommented', (t) => {
  const source = knexfileTemplate({ extension: 'js', esm: false, database: 'shop' });
  t.deepEqual(zeroDowntimeBlock(source, false), {});
  const options = zeroDowntimeBlock(source, true) as Record<string, unknown>;
  t.deepEqual(Object.keys(options), ['stages', 'timeouts', 'quorum', 'checks', 'shadow', 'hotUpgrade']);
  t.notThrows(() => parseSettings(options));
});

test('init knexfiles: CommonJS, ESM in a "type": "module" package or as .mjs, TypeScript', (t) => {
  const cjs = knexfileTemplate({ extension: 'js', esm: false, database: 'shop' });
  t.regex(cjs, /^\/\/\/ <reference types="knex-zero-downtime\/types" \/>\n\n\/\*\* @type \{import\('knex'\)\.Knex\.Config\} \*\/\nmodule\.exports = \{\n {2}client: 'pg',\n {2}connection: process\.env\.DATABASE_URL \|\| 'postgres:\/\/postgres@localhost:5432\/shop',/);
  t.is(knexfileTemplate({ extension: 'cjs', esm: true, database: 'shop' }), cjs);
  const esm = knexfileTemplate({ extension: 'js', esm: true, database: 'shop' });
  t.regex(esm, /\nconst config = \{\n[\s\S]*\n\};\n\nexport default config;\n$/);
  t.is(knexfileTemplate({ extension: 'mjs', esm: false, database: 'shop' }), esm);
  const ts = knexfileTemplate({ extension: 'ts', esm: false, database: 'shop' });
  t.regex(ts, /^import type \{ Knex \} from 'knex';\nimport type \{\} from 'knex-zero-downtime'; \/\/ adds zeroDowntime to Knex\.Config\n\nconst config: Knex\.Config = \{\n/);
  t.regex(ts, /\n\};\n\nexport default config;\n$/);
});
