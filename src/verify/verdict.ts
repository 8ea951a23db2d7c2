/**
 * From what each statement met at each step to a verdict, following the deploy:
 * - the old code runs at the current schema and through every pre-deploy migration (and the
 *   roll-out after them); it is gone before the post-deploy migrations;
 * - the new code runs from the end of the pre-deploy step on: through the roll-out and every
 *   post-deploy migration.
 */
import type { StepOutcome } from './step-check.js';
import type { QuerySide, SourceStatement } from './statements.js';

/** Which step of the deploy a schema belongs to. */
export type DeployPhase = 'current' | 'pre-deploy' | 'post-deploy';

/** One schema the statements were checked at: the current one, then one after each pending migration, in deploy order. */
export interface VerifyStep {
  /** The migration just applied in the shadow database; `null` for the current schema. */
  readonly after: string | null;
  readonly phase: DeployPhase;
}

/**
 * - `ok`: works wherever its code runs;
 * - `breaks`: an old statement that fails after a pre-deploy migration, or a new one that fails
 *   after the pre-deploy step: the deploy would break it (an error);
 * - `breaks-after-roll-out`: an old statement that fails only after a post-deploy migration
 *   (expected: the roll-out must be over by then);
 * - `fails-now`: an old statement that already fails at the current schema (reported apart, not counted);
 * - `syntax-error`: it does not parse (reported as such, not as a schema incompatibility);
 * - `not-checked`: PREPARE cannot take it (BEGIN, SET, DDL…).
 */
export type Verdict = 'ok' | 'breaks' | 'breaks-after-roll-out' | 'fails-now' | 'syntax-error' | 'not-checked';

/** Where and how a statement failed. */
export interface QueryFailure {
  /** The migration after which it fails; `null` at the current schema. */
  readonly after: string | null;
  readonly phase: DeployPhase;
  readonly kind: 'error' | 'not-null';
  readonly sqlState: string;
  readonly message: string;
  readonly detail?: string;
}

/** A statement with its verdict and its outcome at each step. */
export interface QueryVerdict {
  readonly side: QuerySide;
  readonly sql: string;
  readonly origin: string;
  readonly command: string;
  readonly verdict: Verdict;
  /** The failure the verdict is about (the first one that counts), or null. */
  readonly failure: QueryFailure | null;
  /** For a syntax error or a statement not checked: why. */
  readonly problem: string | null;
  /**
   * For a new statement that does not work at the current schema: the first migration after which
   * it works (what the new code needs applied before it runs); for one that breaks after the
   * pre-deploy step but works later: the post-deploy migration it needs. Otherwise null.
   */
  readonly needs: string | null;
  /** The outcome at each step (aligned with the steps); `null` where it was not checked. */
  readonly results: ReadonlyArray<StepOutcome | null>;
}

function failureAt(steps: readonly VerifyStep[], results: ReadonlyArray<StepOutcome | null>, i: number): QueryFailure {
  const outcome = results[i] as Extract<StepOutcome, { ok: false }>;
  const { ok: _ok, ...rest } = outcome;
  return { after: steps[i].after, phase: steps[i].phase, ...rest };
}

const failed = (outcome: StepOutcome | null | undefined): boolean => outcome !== null && outcome !== undefined && !outcome.ok;
const passed = (outcome: StepOutcome | null | undefined): boolean => outcome !== null && outcome !== undefined && outcome.ok;

/** The index of the step that ends the pre-deploy step (the current schema when there is no pre-deploy migration). */
function endOfPreDeploy(steps: readonly VerifyStep[]): number {
  let end = 0;
  steps.forEach((step, i) => {
    if (step.phase === 'pre-deploy') end = i;
  });
  return end;
}

/** The verdict of one statement of `side`, given its outcome at each of `steps`. */
export function judgeStatement(statement: SourceStatement, side: QuerySide, steps: readonly VerifyStep[], results: ReadonlyArray<StepOutcome | null>): QueryVerdict {
  const base = { side, sql: statement.sql, origin: statement.origin, command: statement.command, problem: statement.problem, results };
  if (statement.status !== 'checkable') return { ...base, verdict: statement.status, failure: null, needs: null };
  const first = results[0];
  // The server's grammar may differ from the parser's: a syntax error it reports is one too.
  if (failed(first) && !first!.ok && first!.sqlState === '42601') return { ...base, verdict: 'syntax-error', failure: failureAt(steps, results, 0), needs: null };

  if (side === 'old') {
    if (failed(first)) return { ...base, verdict: 'fails-now', failure: failureAt(steps, results, 0), needs: null };
    const i = results.findIndex((outcome, index) => index > 0 && failed(outcome));
    if (i < 0) return { ...base, verdict: 'ok', failure: null, needs: null };
    return { ...base, verdict: steps[i].phase === 'post-deploy' ? 'breaks-after-roll-out' : 'breaks', failure: failureAt(steps, results, i), needs: null };
  }

  const end = endOfPreDeploy(steps);
  const live = results.map((_, i) => i).filter((i) => i === end || steps[i].phase === 'post-deploy');
  const broken = live.find((i) => failed(results[i]));
  if (broken !== undefined) {
    const later = broken === end ? results.findIndex((outcome, i) => i > end && passed(outcome)) : -1;
    return { ...base, verdict: 'breaks', failure: failureAt(steps, results, broken), needs: later > 0 ? steps[later].after : null };
  }
  const works = failed(first) ? results.findIndex((outcome) => passed(outcome)) : -1;
  return { ...base, verdict: 'ok', failure: null, needs: works > 0 ? steps[works].after : null };
}
