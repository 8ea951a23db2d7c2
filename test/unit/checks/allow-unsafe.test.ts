import test from 'ava';
import { analyzeMigration } from '../../../src/analysis/analyze-migration.js';
import { CHECKS, allowableIds, checkRules, runChecks } from '../../../src/checks/index.js';
import { parseSettings } from '../../../src/config.js';
import { report } from './support.js';

const settings = parseSettings({});
const INDEX = 'CREATE INDEX orders_customer_idx ON orders (customer_id)';

test('an opt-out with a reason keeps the finding as a note with the reason; the migration passes', async (t) => {
  const m = await report('002_index.js', [INDEX], { allowUnsafe: { 'create-index-blocking': 'lookup table of 40 rows, checked 2025-03-01' } });
  const result = runChecks([m], settings);
  t.is(result.errors, 0);
  t.deepEqual(
    result.findings.map((f) => [f.code, f.severity, f.allowed]),
    [['create-index-blocking', 'info', { reason: 'lookup table of 40 rows, checked 2025-03-01' }]],
  );
});

test('the array form is an error with the corrected config written out, and opts out of nothing', async (t) => {
  const m = await report('002_index.js', [INDEX], { allowUnsafe: ['create-index-blocking'] });
  const result = runChecks([m], settings);
  t.deepEqual(result.findings.map((f) => [f.code, f.severity]), [
    ['invalid-allow-unsafe', 'error'],
    ['create-index-blocking', 'error'],
  ]);
  const [invalid] = result.findings;
  t.is(
    invalid.message,
    '002_index.js: config.allowUnsafe is an array (["create-index-blocking"]): each opt-out now needs the reason a human judged it safe, so the array form opts out of nothing.',
  );
  t.is(invalid.hint, "export const config = { allowUnsafe: { 'create-index-blocking': '<why it is safe here: table size, traffic, who checked and when>' } };");
});

test('a missing or empty reason is an error; the entries with a reason still opt out', async (t) => {
  const m = await report('003_both.js', [INDEX, 'ALTER TABLE orders RENAME COLUMN a TO b'], {
    allowUnsafe: { 'create-index-blocking': '  ', 'rename-column': 'no code reads a yet' },
  });
  const result = runChecks([m], settings);
  t.deepEqual(result.findings.map((f) => [f.code, f.severity]), [
    ['invalid-allow-unsafe', 'error'],
    ['create-index-blocking', 'error'],
    ['rename-column', 'info'],
  ]);
  t.is(result.findings[0].message, '003_both.js: the opt-out of "create-index-blocking" has no reason ("  "), so it opts out of nothing.');
  t.is(
    result.findings[0].hint,
    "export const config = { allowUnsafe: { 'create-index-blocking': '<why it is safe here: table size, traffic, who checked and when>', 'rename-column': 'no code reads a yet' } };",
  );
});

test('an unknown id is an error listing the ids of the registry', async (t) => {
  const m = await report('004_typo.js', [INDEX], { allowUnsafe: { 'create-index-blockin': 'typo', 'ambiguous-stage': 'not an unsafe check' } });
  const [invalid] = runChecks([m], settings).findings;
  t.is(invalid.code, 'invalid-allow-unsafe');
  t.is(
    invalid.message,
    `004_typo.js: "create-index-blockin", "ambiguous-stage" are not ids of an unsafe-operation check; the ids are: ${allowableIds().join(', ')}.`,
  );
  t.is(invalid.hint, "export const config = { allowUnsafe: { 'create-index-blocking': '<why it is safe here: table size, traffic, who checked and when>' } };");
});

test('the ids a migration may opt out of come from the registry: every unsafe-operation finding, nothing else', (t) => {
  const ids = allowableIds();
  for (const id of ['create-index-blocking', 'not-null-without-default', 'whole-table-update', 'truncate-cascade', 'lock-held-across-statements', 'concurrent-index-corruption', 'drop-in-pre-deploy']) {
    t.true(ids.includes(id), id);
  }
  for (const id of ['ambiguous-stage', 'missing-down', 'parse-error', 'unclassified-statement', 'invalid-allow-unsafe', 'statement']) t.false(ids.includes(id), id);
  // Every id a check reports has a description (the SARIF rules and the README list them).
  const rules = checkRules(CHECKS);
  t.true(rules.every((r) => r.description.length > 10));
  t.is(new Set(rules.map((r) => r.id)).size, rules.length);
});

test('analyzeMigration keeps only well-formed opt-outs and the raw value for the check', async (t) => {
  // A module without `up` is reported without being captured, so no database is needed; its config is still read.
  const module = { down: async () => {}, config: { allowUnsafe: { a: 'why', b: '', c: 3 } as unknown as Record<string, string> } };
  const m = await analyzeMigration({} as never, { name: 'x.js', module }, { settings });
  t.deepEqual(m.allowUnsafe, { a: 'why' });
  t.deepEqual(m.declaredAllowUnsafe, { a: 'why', b: '', c: 3 });
});

test('checks.unsafe: off drops an opted-out finding too; only off drops', async (t) => {
  const m = await report('002_index.js', [INDEX], { allowUnsafe: { 'create-index-blocking': 'reviewed' } });
  t.deepEqual(runChecks([m], parseSettings({ checks: { unsafe: 'off' } })).findings, []);
  t.is(runChecks([m], parseSettings({ checks: { unsafe: 'warning' } })).findings[0].severity, 'info');
});
