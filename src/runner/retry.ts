import type { Knex } from 'knex';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { LockTimeoutError } from '../errors.js';
import { backoffDelay, retryDecision } from './backoff.js';
import { watchBlockers, type BlockerWatch, type BlockingProcess } from './blockers.js';
import type { RunnerContext } from './context.js';

/** What an attempt is told about itself. */
export interface Attempt {
  /** 1 for the first try. */
  readonly number: number;
  /** True when no retry is left: blockers are watched so that the error can name them. */
  readonly final: boolean;
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
  /** Test seams. */
  readonly sleep?: (ms: number) => Promise<unknown>;
  readonly random?: () => number;
}

/** Runs `attempt`, retrying it on lock timeout with backoff and jitter; gives up with a {@link LockTimeoutError}. */
export async function retryOnLockTimeout<T>(run: (attempt: Attempt) => Promise<T>, options: RetryOptions): Promise<T> {
  const { timeouts } = options.context.settings;
  const sleep = options.sleep ?? ((ms: number) => sleepFor(ms));
  const started = Date.now();
  for (let retriesDone = 0; ; retriesDone++) {
    let watch: BlockerWatch | undefined;
    const final = retriesDone >= timeouts.retries;
    try {
      return await run({
        number: retriesDone + 1,
        final,
        watch(client, pid) {
          if (final && timeouts.lock !== null && !watch) watch = watchBlockers(client, pid, timeouts.lock);
        },
      });
    } catch (error) {
      const blockers = watch ? await watch.stop() : [];
      watch = undefined;
      if (error instanceof LockTimeoutError) throw error;
      const decision = retryDecision(error, retriesDone, timeouts.retries);
      if (decision === 'rethrow') throw error;
      if (decision === 'give-up') {
        throw lockTimeoutError({
          context: options.context,
          statement: options.statement(),
          blockers,
          attempts: retriesDone + 1,
          elapsedMs: Date.now() - started,
          scope: options.scope,
          cause: error,
        });
      }
      await sleep(backoffDelay(retriesDone + 1, timeouts, options.random));
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

/** The message a {@link LockTimeoutError} was built with, before knex prefixed it with the SQL. */
export function originalMessage(error: Error): string {
  return messages.get(error) ?? error.message;
}

/** Builds the error of a lock wait that retries did not get past. */
export function lockTimeoutError(input: {
  context: RunnerContext;
  statement: string | undefined;
  blockers: readonly BlockingProcess[];
  attempts: number;
  elapsedMs: number;
  scope: RetryOptions['scope'];
  cause: unknown;
}): LockTimeoutError {
  const { context, blockers } = input;
  const lock = context.settings.timeouts.lock;
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
    `timed out after lock_timeout ${lock === null ? '(server setting)' : `${lock}ms`}, ${tries}${input.attempts > 1 ? ` (${what})` : ''}.`,
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
  const pids = blockers.map((b) => b.pid);
  lines.push(
    'What to do: let the blocking transaction finish (or end it: ' +
      (pids.length > 0 ? pids.map((pid) => `SELECT pg_terminate_backend(${pid});`).join(' ') : 'SELECT pg_terminate_backend(<pid>);') +
      '), then run the migration again; or retry at a quieter time with more patience:',
    "  zeroDowntime: { timeouts: { lock: '10s', retries: 10 } }   // or knex-zd migrate:latest --lock-timeout 10s --retries 10",
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
