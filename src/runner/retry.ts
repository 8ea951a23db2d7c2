import type { Knex } from 'knex';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { LockTimeoutError } from '../errors.js';
import { isFinalAttempt, lockTimeoutFor, pauseAfter, retryDecision } from './backoff.js';
import { watchBlockers, type BlockerWatch, type BlockingProcess } from './blockers.js';
import type { RunnerContext } from './context.js';

/** What an attempt is told about itself. */
export interface Attempt {
  /** 1 for the first try. */
  readonly number: number;
  /** True when no retry is left: blockers are watched so that the error can name them. */
  readonly final: boolean;
  /** The `lock_timeout` of this attempt, in milliseconds (`null`: off). */
  readonly lockTimeout: number | null;
  /** Call with the backend pid of the connection that may wait, to have its blockers watched on the final attempt. */
  watch(client: Knex.Client, pid: number): void;
}

/** Options of {@link retryOnLockTimeout}. */
export interface RetryOptions {
  readonly context: RunnerContext;
  /** The statement that waited, for the error (called after the last failure). */
  readonly statement: () => string | undefined;
  /** Where the retry happens, for the error: `'statement'` or `'migration'`. */
  readonly scope: 'statement' | 'migration' | 'transaction';
  /** Called when retries run out, before the error is built: lines to add to its message (e.g. what was left behind). */
  readonly onGiveUp?: () => Promise<readonly string[]>;
  /** Test seams. */
  readonly sleep?: (ms: number) => Promise<unknown>;
  readonly random?: () => number;
}

/**
 * Runs `attempt`, retrying it on lock timeout as `Settings.timeouts` says (each attempt with
 * its own `lock_timeout`, jittered pauses in between, bounded by `retries` and `total`); gives
 * up with a {@link LockTimeoutError} that names the blockers.
 */
export async function retryOnLockTimeout<T>(run: (attempt: Attempt) => Promise<T>, options: RetryOptions): Promise<T> {
  const { timeouts } = options.context.settings;
  const sleep = options.sleep ?? ((ms: number) => sleepFor(ms));
  const started = Date.now();
  for (let number = 1; ; number++) {
    let watch: BlockerWatch | undefined;
    const lockTimeout = lockTimeoutFor(number, timeouts);
    const final = isFinalAttempt(number, Date.now() - started, timeouts);
    try {
      return await run({
        number,
        final,
        lockTimeout,
        watch(client, pid) {
          if (final && lockTimeout !== null && !watch) watch = watchBlockers(client, pid, lockTimeout);
        },
      });
    } catch (error) {
      const blockers = watch ? await watch.stop() : [];
      watch = undefined;
      if (error instanceof LockTimeoutError) throw error;
      const decision = retryDecision(error, final);
      if (decision === 'rethrow') throw error;
      if (decision === 'give-up') {
        const notes = options.onGiveUp ? await options.onGiveUp().catch(() => []) : [];
        throw lockTimeoutError({
          context: options.context,
          statement: options.statement(),
          blockers,
          attempts: number,
          lockTimeout,
          elapsedMs: Date.now() - started,
          scope: options.scope,
          notes,
          cause: error,
        });
      }
      await sleep(pauseAfter(number, Date.now() - started, timeouts, options.random));
    } finally {
      if (watch) await watch.stop();
    }
  }
}

function oneLine(sql: string | undefined, max = 300): string {
  if (!sql) return '(unknown statement)';
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function seconds(ms: number | null): string {
  if (ms === null) return 'unknown time';
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

const messages = new WeakMap<Error, string>();

/** The message an error of the runner was built with, before knex prefixed it with the SQL. */
export function originalMessage(error: Error): string {
  return messages.get(error) ?? error.message;
}

/** Remembers `error`'s message as it is now, before knex prefixes it with the SQL. */
export function rememberMessage(error: Error): void {
  if (!messages.has(error)) messages.set(error, error.message);
}

/** Builds the error of a lock wait that retries did not get past. */
export function lockTimeoutError(input: {
  context: RunnerContext;
  statement: string | undefined;
  blockers: readonly BlockingProcess[];
  attempts: number;
  /** The `lock_timeout` of the last attempt. */
  lockTimeout: number | null;
  elapsedMs: number;
  scope: RetryOptions['scope'];
  /** Lines added before the advice, e.g. what the statement left behind. */
  notes?: readonly string[];
  cause: unknown;
}): LockTimeoutError {
  const { context, blockers } = input;
  const lock = input.lockTimeout;
  const schedule = context.settings.timeouts.lockSchedule;
  const escalated = input.attempts > 1 && schedule.length > 1 ? `; the waits grew from ${schedule[0]}ms to ${lock}ms` : '';
  const who = context.name === null ? 'A safe operation' : `Migration ${JSON.stringify(context.name)} (${context.direction})`;
  const tries = input.attempts === 1 ? 'once' : `${input.attempts} times over ${seconds(input.elapsedMs)}`;
  const what =
    input.scope === 'migration'
      ? 'the whole migration was retried from a savepoint'
      : input.scope === 'transaction'
        ? 'its transaction was retried'
        : 'the statement alone was retried';
  const lines = [
    `${who} gave up waiting for a lock: the statement`,
    `  ${oneLine(input.statement)}`,
    `timed out after lock_timeout ${lock === null ? '(server setting)' : `${lock}ms`}, ${tries}${input.attempts > 1 ? ` (${what}${escalated})` : ''}.`,
    'Waiting longer would queue every later query on that table behind the migration, which is an outage.',
  ];
  if (blockers.length > 0) {
    lines.push('It was waiting behind:');
    for (const b of blockers) {
      lines.push(
        `  pid ${b.pid} (${b.state ?? 'unknown state'} for ${seconds(b.durationMs)}${b.user ? `, user ${b.user}` : ''}${b.applicationName ? `, ${b.applicationName}` : ''}${b.locks ? `, holding ${b.locks}` : ''}): ${oneLine(b.query ?? undefined, 200)}`,
      );
    }
  } else {
    lines.push('The blocking session was not caught in the act (pg_blocking_pids was empty when looked at).');
  }
  lines.push(...(input.notes ?? []));
  const pids = blockers.map((b) => b.pid);
  lines.push(
    'What to do: let the blocking transaction finish (or end it: ' +
      (pids.length > 0 ? pids.map((pid) => `SELECT pg_terminate_backend(${pid});`).join(' ') : 'SELECT pg_terminate_backend(<pid>);') +
      '), then run the migration again; or retry at a quieter time with more patience:',
    ...(schedule.length > 1
      ? [
          "  zeroDowntime: { timeouts: { total: '10min' } }   // the same short waits, for longer",
          "  zeroDowntime: { timeouts: { lock: '10s', retries: 10 } }   // longer waits (writers queue behind each one), or knex-zd migrate:latest --lock-timeout 10s --retries 10",
        ]
      : ["  zeroDowntime: { timeouts: { lock: '10s', retries: 10 } }   // or knex-zd migrate:latest --lock-timeout 10s --retries 10"]),
  );
  const error = new LockTimeoutError(lines.join('\n'), {
    cause: input.cause,
    details: {
      migration: context.name,
      direction: context.direction,
      statement: input.statement ?? null,
      attempts: input.attempts,
      lockTimeoutMs: lock,
      blockers,
    },
  });
  messages.set(error, error.message);
  return error;
}
