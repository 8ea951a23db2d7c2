import test from 'ava';
import type { MigrationReport } from '../../../src/analysis/migration-types.js';
import { loadParser } from '../../../src/analysis/parser.js';
import { CHECKS, runChecks } from '../../../src/checks/index.js';
import { parseSettings } from '../../../src/config.js';
import { candidateOf } from '../../../src/safe-by-default/candidate.js';
import { decideSafeForms } from '../../../src/safe-by-default/decide.js';
import { facts, report } from '../checks/support.js';

test.before(async () => {
  await loadParser();
});

const INDEX = 'CREATE INDEX orders_customer_idx ON orders (customer_id)';
const CHECK = 'ALTER TABLE orders ADD CONSTRAINT orders_total CHECK (total >= 0)';
const big = facts({ orders: { rows: 1_000_000, totalBytes: 1e9 }, tiny: { rows: 10 } });
const settings = parseSettings({ safeByDefault: true });

/** Numbers the statements that have a safe form, as capture does. */
function numbered(m: MigrationReport): MigrationReport {
  let next = 0;
  return { ...m, statements: m.statements.map((s) => (candidateOf(s.sql) ? { ...s, candidate: next++ } : s)) };
}

function decide(m: MigrationReport, options = settings, target = big) {
  const reports = [numbered(m)];
  const decided = decideSafeForms(reports, runChecks(reports, options, CHECKS, target).findings);
  return (decided.get(m.name) ?? []).map((d) => [d.ordinal, d.kind, d.sql]);
}

test('a refused statement with a safe form runs in it, with its place, kind and what analysis found', async (t) => {
  const m = await report('001.js', ['CREATE TABLE fresh (id int)', 'CREATE INDEX fresh_id ON fresh (id)', INDEX, CHECK]);
  t.deepEqual(decide(m), [
    [1, 'index', INDEX],
    [2, 'check', CHECK],
  ]);
  const [directive] = decideSafeForms([numbered(m)], runChecks([numbered(m)], settings, CHECKS, big).findings).get('001.js')!;
  t.is(directive.stage, 'pre-deploy');
  t.deepEqual(directive.findings.map((f) => f.code), ['create-index-blocking']);
});

test('what a check does not refuse runs as written: a small table, allowUnsafe, a warning, a check turned off', async (t) => {
  t.deepEqual(decide(await report('001.js', ['CREATE INDEX tiny_a ON tiny (a)'])), []);
  t.deepEqual(decide(await report('001.js', [INDEX], { allowUnsafe: { 'create-index-blocking': 'reviewed' } })), []);
  t.deepEqual(decide(await report('001.js', [INDEX]), parseSettings({ safeByDefault: true, checks: { unsafe: 'warning' } })), []);
  t.deepEqual(decide(await report('001.js', [INDEX]), parseSettings({ safeByDefault: true, checks: { 'create-index-blocking': 'off' } })), []);
});

test('a table that an earlier migration of the same run creates holds no rows yet: its index runs as written', async (t) => {
  const first = numbered(await report('001.js', ['CREATE TABLE fresh (id int)']));
  const second = numbered(await report('002.js', ['CREATE INDEX fresh_id ON fresh (id)']));
  const target = facts({ fresh: null });
  const findings = runChecks([first, second], settings, CHECKS, target).findings;
  t.deepEqual(findings.map((f) => [f.code, f.severity]), [['create-index-blocking', 'info']]);
  t.is(decideSafeForms([first, second], findings).size, 0);
});

test('a migration that opts out, declares transaction: true, or runs the statement in its own transaction keeps it as written', async (t) => {
  const base = await report('001.js', [INDEX]);
  t.deepEqual(decide({ ...base, safeByDefault: false }), []);
  t.deepEqual(decide({ ...base, transaction: true, transactionDeclared: true }), []);
  t.deepEqual(decide({ ...base, transaction: false, transactionDeclared: true }), [[0, 'index', INDEX]]);
  t.deepEqual(decide(await report('001.js', [{ sql: INDEX, inExplicitTransaction: true }], { transaction: false })), []);
});

test('a refusal without a safe form stays one: a multi-command ALTER TABLE, a type change', async (t) => {
  const m = await report('001.js', ['ALTER TABLE orders ADD COLUMN x int, ADD CONSTRAINT x_positive CHECK (x > 0)', 'ALTER TABLE orders ALTER COLUMN total TYPE bigint']);
  t.deepEqual(decide(m), []);
});

test('in the second analysis, the refusal of a statement in its safe form is a note that says so, whatever checks.unsafe says', async (t) => {
  const first = numbered(await report('001.js', [INDEX]));
  const [directive] = decideSafeForms([first], runChecks([first], settings, CHECKS, big).findings).get('001.js')!;
  const step = await report('001.js', [{ sql: 'CREATE INDEX CONCURRENTLY orders_customer_idx ON public.orders (customer_id)', stepTransaction: 'none', operation: { name: 'addIndexConcurrently', stage: 'pre-deploy' } }], { transaction: false });
  const second: MigrationReport = { ...step, safeForms: [directive], statements: step.statements.map((s) => ({ ...s, safeForm: directive })) };
  for (const options of [settings, parseSettings({ safeByDefault: true, checks: { unsafe: 'error' } })]) {
    const result = runChecks([second], options, CHECKS, big);
    t.is(result.errors, 0);
    t.deepEqual(
      result.findings.map((f) => [f.code, f.severity, f.statement, f.safeForm?.note]),
      [
        [
          'create-index-blocking',
          'info',
          INDEX,
          'runs in its safe form (safeByDefault): CREATE INDEX CONCURRENTLY (an INVALID index left by an interrupted build is dropped first). The migration runs outside a transaction: each statement commits on its own.',
        ],
      ],
    );
  }
  // A safe form with nothing left to run still reports what was found about its statement.
  const done: MigrationReport = { ...second, statements: [] };
  t.deepEqual(runChecks([done], settings, CHECKS, big).findings.map((f) => [f.code, f.severity]), [['create-index-blocking', 'info']]);
});

test('settings: safeByDefault is false by default and must be a boolean', (t) => {
  t.false(parseSettings({}).safeByDefault);
  t.true(parseSettings({ safeByDefault: true }).safeByDefault);
  t.throws(() => parseSettings({ safeByDefault: 'yes' }), { message: 'zeroDowntime.safeByDefault must be true or false; got "yes".' });
});
