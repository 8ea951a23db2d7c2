import type { Settings } from '../config.js';
import { sqlStateOf } from '../errors.js';

/** SQLSTATE `lock_not_available`: `lock_timeout` expired (or a NOWAIT lock was refused). */
export const LOCK_NOT_AVAILABLE = '55P03';
/** SQLSTATE `query_canceled`: `statement_timeout` expired (or the query was cancelled). Never retried. */
export const QUERY_CANCELED = '57014';

/** The backoff part of `Settings.timeouts`. */
export interface BackoffSettings {
  /** First delay in milliseconds. */
  readonly backoff: number;
  /** Longest delay in milliseconds. */
  readonly maxBackoff: number;
}

/** The parts of `Settings.timeouts` that decide the attempts. */
export type RetryPolicy = Pick<Settings['timeouts'], 'lockSchedule' | 'retries' | 'total' | 'backoff' | 'maxBackoff'>;

/** The longest pause before retry number `retry` (1 for the first retry): exponential, capped at `maxBackoff`. */
export function backoffCeiling(retry: number, settings: BackoffSettings): number {
  const exponent = Math.max(0, retry - 1);
  return Math.min(settings.maxBackoff, settings.backoff * 2 ** Math.min(exponent, 30));
}

/**
 * The delay before retry number `retry` (1 for the first retry): exponential, capped at
 * `maxBackoff`, with "equal jitter" (between half and all of the exponential delay) so that
 * several deployers or pods retrying the same lock do not line up again.
 */
export function backoffDelay(retry: number, settings: BackoffSettings, random: () => number = Math.random): number {
  const ceiling = backoffCeiling(retry, settings);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The `lock_timeout` of attempt number `attempt` (1 for the first): its entry of the schedule, the last one repeating; `null` when off. */
export function lockTimeoutFor(attempt: number, policy: Pick<RetryPolicy, 'lockSchedule'>): number | null {
  const schedule = policy.lockSchedule;
  if (schedule.length === 0) return null;
  return schedule[Math.min(Math.max(attempt, 1), schedule.length) - 1];
}

/**
 * Whether attempt number `attempt`, starting `elapsedMs` after the first one, is the last
 * that the policy allows: no retry is left, or even the shortest pause after it would start
 * the next attempt past `total`. Known before the attempt, so that its blockers can be
 * watched (once the lock wait has timed out, they can no longer be seen).
 */
export function isFinalAttempt(attempt: number, elapsedMs: number, policy: RetryPolicy): boolean {
  if (policy.retries !== null && attempt > policy.retries) return true;
  if (policy.total === null) return false;
  const wait = lockTimeoutFor(attempt, policy) ?? 0;
  return elapsedMs + wait + backoffCeiling(attempt, policy) / 2 >= policy.total;
}

/**
 * The pause after failed attempt number `attempt`, `elapsedMs` after the first one started:
 * the jittered backoff, cut so that the next attempt still starts within `total`.
 */
export function pauseAfter(attempt: number, elapsedMs: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const delay = backoffDelay(attempt, policy, random);
  return policy.total === null ? delay : Math.max(0, Math.min(delay, policy.total - elapsedMs));
}

/** What to do with an error of an attempt. */
export type RetryDecision = 'retry' | 'give-up' | 'rethrow';

/**
 * Only a lock timeout is retried: nothing was done yet, and the blocker may be gone soon.
 * A statement timeout (57014) means the statement itself is too slow: retrying would only
 * repeat the work, so it is rethrown like any other error.
 */
export function retryDecision(error: unknown, final: boolean): RetryDecision {
  if (sqlStateOf(error) !== LOCK_NOT_AVAILABLE) return 'rethrow';
  return final ? 'give-up' : 'retry';
}
