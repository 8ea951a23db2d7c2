/**
 * knex's `.alter()` emits several statements for one column change (`DROP DEFAULT`,
 * `DROP NOT NULL`, `TYPE`, then maybe `SET DEFAULT`, `SET NOT NULL`). Judged one by one they look
 * like a mix of both stages; judged together, by the column's state before and after the run,
 * they are what actually changes: a widened type or a dropped NOT NULL is pre-deploy work, a new
 * NOT NULL or a narrowed type is post-deploy work, and what is put back as it was is nothing.
 */
import type { Stage } from '../../stages.js';
import type { ActionAnalysis, ColumnChange, StatementAnalysis } from '../types.js';

interface Located {
  readonly statement: number;
  readonly action: number;
  readonly change: ColumnChange;
}

/** The statements with the stages of each run of `ALTER COLUMN` actions on one column set by the run's net change. */
export function judgeColumnChanges(statements: readonly StatementAnalysis[]): StatementAnalysis[] {
  const out = statements.map((s) => ({ ...s, actions: [...s.actions], findings: [...s.findings] }));
  for (const run of columnRuns(out)) {
    if (run.length < 2) continue;
    settle(out, run, 'not-null');
    settle(out, run, 'default');
  }
  return out.map(restage);
}

/** Consecutive column actions on one column; a statement joins a run only when all its actions do. */
function columnRuns(statements: readonly StatementAnalysis[]): Located[][] {
  const runs: Located[][] = [];
  let current: Located[] = [];
  const flush = () => {
    if (current.length > 0) runs.push(current);
    current = [];
  };
  statements.forEach((statement, s) => {
    const changes = statement.actions.map((action, a) => (action.change ? { statement: s, action: a, change: action.change } : null));
    const all = changes.length > 0 && changes.every((c): c is Located => c !== null);
    if (!all) {
      flush();
      return;
    }
    for (const located of changes) {
      const head = current[0]?.change;
      if (head && (head.table !== located.change.table || head.column !== located.change.column)) flush();
      current.push(located);
    }
  });
  flush();
  return runs;
}

/** Gives the last action of an aspect the net change's stage and takes the stage away from the others. */
function settle(statements: Array<StatementAnalysis & { actions: ActionAnalysis[]; findings: StatementAnalysis['findings'][number][] }>, run: readonly Located[], aspect: 'not-null' | 'default'): void {
  const of = run.filter((r) => r.change.aspect === aspect);
  if (of.length < 2) return;
  const first = of[0].change as Extract<ColumnChange, { aspect: typeof aspect }>;
  const last = of[of.length - 1];
  const after = (last.change as Extract<ColumnChange, { aspect: typeof aspect }>).after;
  if (first.before === undefined) return; // nothing knew the column: leave each statement's own judgement
  let stage: Stage | null;
  if (aspect === 'not-null') stage = first.before === after ? null : after ? 'post-deploy' : 'pre-deploy';
  else stage = after === null ? (first.before === null ? null : 'post-deploy') : 'pre-deploy';
  for (const located of of) {
    const statement = statements[located.statement];
    const action = statement.actions[located.action];
    const decisive = located === last;
    statement.actions[located.action] = { ...action, stage: decisive ? stage : null };
    if (aspect === 'not-null' && !(decisive && stage === 'post-deploy')) {
      // A NOT NULL that only puts back what the run took away is no new constraint for old code;
      // PostgreSQL still scans the table for it (the action keeps `scans`).
      const index = statement.findings.findIndex((f) => f.code === 'set-not-null-scan');
      if (index >= 0 && statement.actions.length === 1) statement.findings.splice(index, 1);
    }
  }
}

function restage(statement: StatementAnalysis): StatementAnalysis {
  const stages = new Set(statement.actions.map((a) => a.stage).filter((s) => s !== null));
  const stage = stages.size === 0 ? null : stages.size > 1 ? 'mixed' : [...stages][0];
  return { ...statement, stage };
}
