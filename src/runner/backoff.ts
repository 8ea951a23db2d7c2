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

/**
 * The delay before retry number `retry` (1 for the first retry): exponential, capped at
 * `maxBackoff`, with "equal jitter" (between half and all of the exponential delay) so that
 * several deployers or pods retrying the same lock do not line up again.
 */
export function backoffDelay(retry: number, settings: BackoffSettings, random: () => number = Math.random): number {
  const exponent = Math.max(0, retry - 1);
  const ceiling = Math.min(settings.maxBackoff, settings.backoff * 2 ** Math.min(exponent, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** What to do with an error after `retriesDone` retries out of `retries` allowed. */
export type RetryDecision = 'retry' | 'give-up' | 'rethrow';

/**
 * Only a lock timeout is retried: nothing was done yet, and the blocker may be gone soon.
 * A statement timeout (57014) means the statement itself is too slow: retrying would only
 * repeat the work, so it is rethrown like any other error.
 */
export function retryDecision(error: unknown, retriesDone: number, retries: number): RetryDecision {
  if (sqlStateOf(error) !== LOCK_NOT_AVAILABLE) return 'rethrow';
  return retriesDone < retries ? 'retry' : 'give-up';
}
