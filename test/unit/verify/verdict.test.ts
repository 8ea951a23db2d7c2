import test from 'ava';
import type { StepOutcome } from '../../../src/verify/step-check.js';
import type { SourceStatement } from '../../../src/verify/statements.js';
import { judgeStatement, type VerifyStep } from '../../../src/verify/verdict.js';

const statement: SourceStatement = { sql: 'select name from users', origin: 'q.sql:1', status: 'checkable', command: 'SELECT', problem: null };
const steps: VerifyStep[] = [
  { after: null, phase: 'current' },
  { after: '001_add.js', phase: 'pre-deploy' },
  { after: '002_rename.js', phase: 'pre-deploy' },
  { after: '003_drop.js', phase: 'post-deploy' },
  { after: '004_drop_more.js', phase: 'post-deploy' },
];
const ok: StepOutcome = { ok: true };
const missing: StepOutcome = { ok: false, kind: 'error', sqlState: '42703', message: 'column "name" does not exist' };

const verdict = (side: 'old' | 'new', results: Array<StepOutcome | null>, s: SourceStatement = statement) => {
  const v = judgeStatement(s, side, steps, results);
  return { verdict: v.verdict, after: v.failure?.after ?? null, needs: v.needs };
};

test('old code: a failure after a pre-deploy migration breaks the deploy; after a post-deploy one it is expected; at the current schema it is not counted', (t) => {
  t.deepEqual(verdict('old', [ok, ok, ok, ok, ok]), { verdict: 'ok', after: null, needs: null });
  t.deepEqual(verdict('old', [ok, ok, missing, missing, missing]), { verdict: 'breaks', after: '002_rename.js', needs: null });
  t.deepEqual(verdict('old', [ok, ok, ok, ok, missing]), { verdict: 'breaks-after-roll-out', after: '004_drop_more.js', needs: null });
  t.deepEqual(verdict('old', [missing, ok, ok, ok, ok]), { verdict: 'fails-now', after: null, needs: null });
  t.deepEqual(verdict('old', [ok, ok, ok, null, null]), { verdict: 'ok', after: null, needs: null }, 'steps not reached (a migration failed) do not count');
});

test('new code: it must work at the end of the pre-deploy step and after each post-deploy migration', (t) => {
  t.deepEqual(verdict('new', [missing, missing, ok, ok, ok]), { verdict: 'ok', after: null, needs: '002_rename.js' });
  t.deepEqual(verdict('new', [ok, missing, ok, ok, ok]), { verdict: 'ok', after: null, needs: null }, 'the new code does not run during the pre-deploy step');
  t.deepEqual(verdict('new', [missing, missing, missing, ok, ok]), { verdict: 'breaks', after: '002_rename.js', needs: '003_drop.js' });
  t.deepEqual(verdict('new', [ok, ok, ok, ok, missing]), { verdict: 'breaks', after: '004_drop_more.js', needs: null });
  t.deepEqual(verdict('new', [missing, missing, missing, missing, missing]), { verdict: 'breaks', after: '002_rename.js', needs: null });
});

test('syntax errors, from the parser or the server, are reported as such and never as a schema incompatibility', (t) => {
  const broken: SourceStatement = { ...statement, sql: 'selec 1', status: 'syntax-error', command: 'SELEC', problem: 'syntax error at or near "selec"' };
  t.deepEqual(verdict('old', [null, null, null, null, null], broken), { verdict: 'syntax-error', after: null, needs: null });
  const server: StepOutcome = { ok: false, kind: 'error', sqlState: '42601', message: 'syntax error at or near "MERGE"' };
  t.deepEqual(verdict('old', [server, server, server, server, server]), { verdict: 'syntax-error', after: null, needs: null });
  t.deepEqual(verdict('new', [server, server, server, server, server]), { verdict: 'syntax-error', after: null, needs: null });
  const begin: SourceStatement = { ...statement, sql: 'BEGIN', status: 'not-checked', command: 'BEGIN', problem: 'PREPARE takes only SELECT, INSERT, UPDATE, DELETE and MERGE' };
  t.deepEqual(verdict('new', [null, null, null, null, null], begin), { verdict: 'not-checked', after: null, needs: null });
});

test('with no pending pre-deploy migration, the new code runs at the current schema', (t) => {
  const postOnly: VerifyStep[] = [{ after: null, phase: 'current' }, { after: '003_drop.js', phase: 'post-deploy' }];
  t.is(judgeStatement(statement, 'new', postOnly, [missing, ok]).verdict, 'breaks');
  t.is(judgeStatement(statement, 'new', postOnly, [missing, ok]).needs, '003_drop.js');
  t.is(judgeStatement(statement, 'old', postOnly, [ok, missing]).verdict, 'breaks-after-roll-out');
});
