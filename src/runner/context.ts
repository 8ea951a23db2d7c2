import { AsyncLocalStorage } from 'node:async_hooks';
import type { Knex } from 'knex';
import { parseSettings, type Settings } from '../config.js';
import { processSingleton } from '../process-singleton.js';
import type { SafeFormCursor } from '../safe-by-default/cursor.js';

/** What the runner knows while a migration (or a lone operation) runs. */
export interface RunnerContext {
  /** The migration's name, or `null` when an operation is called outside the migrator. */
  readonly name: string | null;
  readonly direction: 'up' | 'down';
  readonly settings: Settings;
  /** With `safeByDefault`: this run's statements that have a safe form, and which of them run in it. */
  readonly safeForms?: SafeFormCursor;
}

const runStorage = processSingleton('runner-context', () => new AsyncLocalStorage<RunnerContext>());

/** Runs `fn` with `context` as the migration in progress. */
export function withRunnerContext<T>(context: RunnerContext, fn: () => Promise<T>): Promise<T> {
  return runStorage.run(context, fn);
}

/** The migration in progress, if any. */
export function currentRunnerContext(): RunnerContext | undefined {
  return runStorage.getStore();
}

const defaults = processSingleton('runner-defaults', () => new WeakMap<object, RunnerContext>());

/**
 * The context of an operation called outside the migrator: the knexfile's `zeroDowntime`
 * option as knex was configured with it, so timeouts apply the same way.
 */
export function defaultRunnerContext(knex: Knex): RunnerContext {
  const config = knex.client.config as { zeroDowntime?: unknown };
  let context = defaults.get(config);
  if (!context) {
    context = { name: null, direction: 'up', settings: parseSettings(config.zeroDowntime) };
    defaults.set(config, context);
  }
  return context;
}

/** The migration in progress, or the default context of `knex`. */
export function runnerContextFor(knex: Knex): RunnerContext {
  return currentRunnerContext() ?? defaultRunnerContext(knex);
}
