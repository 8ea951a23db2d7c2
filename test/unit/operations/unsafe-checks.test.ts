import test from 'ava';
import { analyzeSql } from '../../../src/analysis/classify/index.js';
import type { CapturedStatement, MigrationReport } from '../../../src/analysis/migration-types.js';
import { parseSettings, type Settings } from '../../../src/config.js';
import { unsafeChecks } from '../../../src/checks/unsafe/index.js';
import type { Stage } from '../../../src/stages.js';

async function report(
  name: string,
  stage: Stage,
  statements: { sql: string; stepTransaction?: CapturedStatement['stepTransaction'] }[],
  transaction = true,
): Promise<MigrationReport> {
  const captured: CapturedStatement[] = [];
  for (const s of statements) {
    const [analysis] = await analyzeSql(s.sql);
    captured.push({
      sql: s.sql,
      source: 'knex',
      stepTransaction: s.stepTransaction ?? 'inherit',
      statementTimeout: true,
      inExplicitTransaction: false,
      analysis: analysis,
    });
  }
  return {
    name,
    file: null,
    direction: 'up',
    declaredStage: stage,
    stage,
    stageSource: 'file',
    ambiguity: null,
    transaction,
    transactionDeclared: false,
    hasDown: true,
    allowUnsafe: {},
    statements: captured,
    error: null,
  };
}

function run(migrations: MigrationReport[], settings: Settings = parseSettings({})) {
  return unsafeChecks.flatMap((check) => check.run({ migrations, settings }).map((f) => ({ code: f.code, migration: f.migration, severity: f.severity })));
}

test('the unsafe checks have stable ids and are marked unsafe', (t) => {
  t.deepEqual(unsafeChecks.map((c) => c.id), ['drop-in-pre-deploy', 'validate-same-transaction', 'missing-lock-timeout', 'lock-held-across-statements', 'concurrent-index-corruption']);
  t.true(unsafeChecks.every((c) => c.unsafe));
});

test('drop-in-pre-deploy: DROP TABLE / DROP COLUMN in a pre-deploy migration, not post-deploy, not a table created in it', async (t) => {
  const pre = await report('m1', 'pre-deploy', [{ sql: 'ALTER TABLE users DROP COLUMN legacy' }]);
  const preTable = await report('m2', 'pre-deploy', [{ sql: 'DROP TABLE sessions' }]);
  const post = await report('m3', 'post-deploy', [{ sql: 'DROP TABLE sessions' }]);
  const scratch = await report('m4', 'pre-deploy', [{ sql: 'CREATE TABLE scratch (id int)' }, { sql: 'DROP TABLE scratch' }]);
  const findings = run([pre, preTable, post, scratch]).filter((f) => f.code === 'drop-in-pre-deploy');
  t.deepEqual(findings, [
    { code: 'drop-in-pre-deploy', migration: 'm1', severity: 'error' },
    { code: 'drop-in-pre-deploy', migration: 'm2', severity: 'error' },
  ]);
  const [finding] = (unsafeChecks[0].run({ migrations: [pre], settings: parseSettings({}) }));
  t.regex(finding.message, /^m1 drops a column in a pre-deploy migration/);
  t.regex(finding.hint!, /await dropColumn\(knex, "users", "legacy"\);/);
});

test('validate-same-transaction: VALIDATE in the transaction of its NOT VALID add, not in its own', async (t) => {
  const add = 'ALTER TABLE orders ADD CONSTRAINT orders_total CHECK (total >= 0) NOT VALID';
  const validate = 'ALTER TABLE orders VALIDATE CONSTRAINT orders_total';
  const same = await report('m1', 'post-deploy', [{ sql: add }, { sql: validate }]);
  const split = await report('m2', 'post-deploy', [{ sql: add }, { sql: validate, stepTransaction: 'own' }], false);
  const noTransaction = await report('m3', 'post-deploy', [{ sql: add }, { sql: validate }], false);
  const findings = run([same, split, noTransaction]).filter((f) => f.code === 'validate-same-transaction');
  t.deepEqual(findings, [{ code: 'validate-same-transaction', migration: 'm1', severity: 'error' }]);
});

test('missing-lock-timeout: only when timeouts are off, for ACCESS EXCLUSIVE on an existing table, unless the migration sets one', async (t) => {
  const alter = await report('m1', 'pre-deploy', [{ sql: 'ALTER TABLE users ADD COLUMN x int' }]);
  const fresh = await report('m2', 'pre-deploy', [{ sql: 'CREATE TABLE t (id int)' }, { sql: 'ALTER TABLE t ADD COLUMN x int' }]);
  const guarded = await report('m3', 'pre-deploy', [{ sql: "SET LOCAL lock_timeout = '2s'" }, { sql: 'ALTER TABLE users ADD COLUMN y int' }]);
  const off = parseSettings({ timeouts: false });
  t.deepEqual(run([alter, fresh, guarded], off).filter((f) => f.code === 'missing-lock-timeout'), [
    { code: 'missing-lock-timeout', migration: 'm1', severity: 'warning' },
  ]);
  t.deepEqual(run([alter], parseSettings({})).filter((f) => f.code === 'missing-lock-timeout'), []);
});
