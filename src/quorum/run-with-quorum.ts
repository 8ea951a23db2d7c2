import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_QUORUM_LEASE_MS, DEFAULT_QUORUM_TIMEOUT_MS } from '../config.js';
import { ConfigError, QuorumError } from '../errors.js';
import { decideQuorumStep } from './decide.js';
import { defaultDeployerId } from './deployer-id.js';
import type { QuorumEvent } from './events.js';
import { quorumNamespace, type QuorumNamespaceInput } from './namespace.js';
import type { QuorumBackend, QuorumOutcome, QuorumState } from './types.js';

/** Options of {@link runWithQuorum}. */
export interface QuorumRunOptions<T = unknown> {
  /** Where the deployers meet (see `createQuorumBackend`). Not closed by `runWithQuorum`. */
  readonly backend: QuorumBackend;
  /** The deploy's identity: a namespace from `quorumNamespace`, or its input (an empty plan then skips coordination). */
  readonly namespace: string | QuorumNamespaceInput;
  /** N: how many deployers must arrive before the plan is applied. 1 skips coordination. */
  readonly size: number;
  /** How long a deployer waits for the others to arrive (`--quorum-timeout`). @default 1_800_000 (30 minutes) */
  readonly timeoutMs?: number;
  /** How long the applier's lease lasts; it renews it every third of that. Waiters give up on a silent applier after it. @default 15_000 */
  readonly leaseMs?: number;
  /** How often a waiter reads the state. @default min(250, leaseMs / 4) */
  readonly pollMs?: number;
  /** This deployer's id, shown to the others (a CI job URL is a good one). @default `host:pid:random` */
  readonly deployerId?: string;
  /** Receives progress: arrivals, who applies, the outcome. */
  readonly onProgress?: (event: QuorumEvent) => void;
  /** A one-line summary of the applier's result, shown to the waiters (e.g. `'batch 4: 2 migrations'`). */
  readonly summarize?: (value: T) => string;
}

/** What {@link runWithQuorum} resolved with. */
export type QuorumResult<T> =
  /** This deployer applied the plan (or coordination was skipped and it applied alone). */
  | { readonly role: 'applier' | 'solo'; readonly value: T }
  /** Another deployer applied the plan successfully. */
  | { readonly role: 'waiter'; readonly applier: string; readonly summary: string | null };

interface Resolved {
  readonly backend: QuorumBackend;
  readonly namespace: string;
  readonly size: number;
  readonly timeoutMs: number;
  readonly leaseMs: number;
  readonly pollMs: number;
  readonly ttlMs: number;
  readonly id: string;
  readonly emit: (event: QuorumEvent) => void;
}

function positive(value: unknown, option: string, integer: boolean): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new ConfigError(
      `${option} must be a ${integer ? 'whole number of at least 1' : 'positive number of milliseconds'}; got ${JSON.stringify(value) ?? String(value)}.`,
      { details: { option, value } },
    );
  }
}

/**
 * Runs `apply` exactly once across `size` deployers: the N-th to arrive applies, renewing a lease
 * while it runs; the others wait and resolve when it succeeded. Rejects with a {@link QuorumError}
 * when the applier failed or vanished, or when fewer than N arrived before `timeoutMs`; the
 * generation is then settled, so that a rerun of the same deploy starts from a clean count.
 * @example
 * const backend = await createQuorumBackend(settings.quorum, { knex });
 * try {
 *   await runWithQuorum({ backend, namespace: { plan, stage: 'pre-deploy', database }, size: 3 }, () => migrator.latest());
 * } finally {
 *   await backend.close();
 * }
 */
export async function runWithQuorum<T>(options: QuorumRunOptions<T>, apply: () => Promise<T>): Promise<QuorumResult<T>> {
  positive(options.size, 'quorum size (--quorum)', true);
  const timeoutMs = options.timeoutMs ?? DEFAULT_QUORUM_TIMEOUT_MS;
  const leaseMs = options.leaseMs ?? DEFAULT_QUORUM_LEASE_MS;
  positive(timeoutMs, 'quorum timeout', false);
  positive(leaseMs, 'quorum lease', false);
  const pollMs = options.pollMs ?? Math.max(10, Math.min(250, Math.floor(leaseMs / 4)));
  positive(pollMs, 'quorum poll interval', false);
  const emit = (event: QuorumEvent): void => options.onProgress?.(event);

  if (options.size === 1) {
    emit({ type: 'skipped', reason: 'size-1' });
    return { role: 'solo', value: await apply() };
  }
  if (typeof options.namespace !== 'string' && options.namespace.plan.length === 0) {
    emit({ type: 'skipped', reason: 'empty-plan' });
    return { role: 'solo', value: await apply() };
  }

  const run: Resolved = {
    backend: options.backend,
    namespace: typeof options.namespace === 'string' ? options.namespace : quorumNamespace(options.namespace),
    size: options.size,
    timeoutMs,
    leaseMs,
    pollMs,
    // Long enough that a live generation never expires under its deployers; short enough that
    // one whose deployers were all killed does not outlive the next deploy by much.
    ttlMs: timeoutMs + 4 * leaseMs,
    id: options.deployerId ?? defaultDeployerId(),
    emit,
  };

  const { generation, arrival } = await call(run, 'arrive', () => run.backend.arrive(run.namespace, run.ttlMs));
  const deadline = Date.now() + timeoutMs;
  emit({
    type: 'arrived',
    deployer: run.id,
    arrival,
    size: run.size,
    namespace: run.namespace,
    generation,
    backend: run.backend.name,
  });

  let lastArrived = -1;
  let lastApplier: string | null = null;
  let failingSince: number | null = null;

  for (;;) {
    let state: QuorumState;
    try {
      state = await run.backend.read(run.namespace, generation);
      failingSince = null;
    } catch (error) {
      // A blip must not fail a deploy, but a backend that stays away must not hang it either.
      failingSince ??= Date.now();
      if (Date.now() - failingSince > Math.max(leaseMs, 4 * pollMs)) throw unreachable(run, 'read', error);
      emit({ type: 'backend-error', message: (error as Error).message });
      await sleep(pollMs);
      continue;
    }

    const step = decideQuorumStep({ arrival, size: run.size, state, now: Date.now(), deadline });
    switch (step.action) {
      case 'wait':
        if (step.arrived !== lastArrived) {
          lastArrived = step.arrived;
          emit({ type: 'waiting', arrived: step.arrived, size: run.size });
        }
        if (step.applier !== null && step.applier !== lastApplier) {
          lastApplier = step.applier;
          emit({ type: 'applying', applier: step.applier, self: false });
        }
        await sleep(pollMs);
        break;
      case 'claim-applier': {
        if (lastArrived < run.size) emit({ type: 'waiting', arrived: state.arrived, size: run.size });
        lastArrived = state.arrived;
        const won = await call(run, 'claim', () =>
          run.backend.claim(run.namespace, generation, { kind: 'applier', applier: run.id, leaseMs }, run.ttlMs),
        );
        if (won) return applyAsApplier(run, generation, apply, options.summarize);
        break;
      }
      case 'declare-timeout':
        if (state.decision === null) {
          await call(run, 'claim', () =>
            run.backend.claim(run.namespace, generation, { kind: 'timeout', by: run.id }, run.ttlMs),
          );
        } else {
          await call(run, 'settle', () =>
            run.backend.settle(
              run.namespace,
              generation,
              { kind: 'timeout', by: run.id, message: `only ${state.arrived} of ${run.size} deployers arrived` },
              run.ttlMs,
            ),
          );
        }
        break;
      case 'declare-lost':
        await call(run, 'settle', () =>
          run.backend.settle(
            run.namespace,
            generation,
            { kind: 'applier-lost', by: run.id, message: `the lease of ${step.applier} expired` },
            run.ttlMs,
          ),
        );
        break;
      case 'done':
        emit({ type: 'applied', applier: step.by, self: false, summary: step.message });
        return { role: 'waiter', applier: step.by, summary: step.message };
      case 'failed':
        throw remoteFailed(run, generation, step.by, step.message);
      case 'applier-lost':
        throw applierLost(run, generation, state);
      case 'timeout':
        throw timedOut(run, generation, Math.max(lastArrived, state.arrived));
      case 'state-lost':
        throw stateLost(run, generation, arrival, step.arrived);
    }
  }
}

async function applyAsApplier<T>(
  run: Resolved,
  generation: number,
  apply: () => Promise<T>,
  summarize: ((value: T) => string) | undefined,
): Promise<QuorumResult<T>> {
  run.emit({ type: 'applying', applier: run.id, self: true });
  const heartbeat = startHeartbeat(run, generation);
  let value: T;
  try {
    value = await apply();
  } catch (error) {
    await heartbeat.stop();
    const message = error instanceof Error ? error.message : String(error);
    await settleAsApplier(run, generation, { kind: 'failed', by: run.id, message });
    throw error;
  }
  await heartbeat.stop();
  let summary: string | null = null;
  try {
    summary = summarize ? summarize(value) : null;
  } catch {
    // A summary is a courtesy to the waiters: it must never turn a successful apply into a failure.
  }
  await settleAsApplier(run, generation, { kind: 'applied', by: run.id, message: summary });
  run.emit({ type: 'applied', applier: run.id, self: true, summary });
  return { role: 'applier', value };
}

/** Writes the applier's outcome, retrying through backend blips for up to a lease; never throws. */
async function settleAsApplier(run: Resolved, generation: number, outcome: QuorumOutcome): Promise<void> {
  const until = Date.now() + run.leaseMs;
  for (;;) {
    try {
      const settled = await run.backend.settle(run.namespace, generation, outcome, run.ttlMs);
      if (!settled) {
        const state = await run.backend.read(run.namespace, generation);
        if (state.outcome !== null && state.outcome.by !== run.id) {
          run.emit({ type: 'lease-lost', applier: run.id, outcome: state.outcome.kind });
        }
      }
      return;
    } catch (error) {
      if (Date.now() >= until) {
        // The waiters will see the lease expire and fail; the applier's own result still stands.
        run.emit({ type: 'backend-error', message: `could not record the outcome: ${(error as Error).message}` });
        return;
      }
      run.emit({ type: 'backend-error', message: (error as Error).message });
      await sleep(run.pollMs);
    }
  }
}

function startHeartbeat(run: Resolved, generation: number): { stop(): Promise<void> } {
  const controller = new AbortController();
  const every = Math.max(10, Math.floor(run.leaseMs / 3));
  const loop = (async () => {
    while (!controller.signal.aborted) {
      try {
        await sleep(every, undefined, { signal: controller.signal });
      } catch {
        return;
      }
      try {
        await run.backend.renewLease(run.namespace, generation, run.id, run.leaseMs, run.ttlMs);
      } catch (error) {
        // Keep applying: stopping half-way through a migration is worse than a late outcome.
        run.emit({ type: 'backend-error', message: `could not renew the lease: ${(error as Error).message}` });
      }
    }
  })();
  return {
    async stop() {
      controller.abort();
      await loop;
    },
  };
}

async function call<R>(run: Resolved, what: string, fn: () => Promise<R>): Promise<R> {
  try {
    return await fn();
  } catch (error) {
    throw unreachable(run, what, error);
  }
}

function where(run: Resolved, generation?: number): Record<string, unknown> {
  return {
    backend: run.backend.name,
    location: run.backend.location,
    namespace: run.namespace,
    ...(generation === undefined ? {} : { generation }),
    size: run.size,
    deployer: run.id,
  };
}

function unreachable(run: Resolved, what: string, error: unknown): QuorumError {
  if (error instanceof QuorumError) return error;
  return new QuorumError(
    `The ${run.backend.name} quorum backend (${run.backend.location}) failed during '${what}': ${(error as Error).message}.\n` +
      `The deployers cannot agree without it, so this deployer stops. If it failed before the plan was applied, ` +
      `nothing was applied by this deployer; check the backend, then rerun all ${run.size} deploys.`,
    { cause: error, details: where(run) },
  );
}

function remoteFailed(run: Resolved, generation: number, applier: string, message: string | null): QuorumError {
  return new QuorumError(
    `The remote applier ${applier} failed, so the plan was not applied.\n` +
      `  Its error: ${message ?? '(no message)'}\n` +
      `Look at the deploy log of ${applier} (host:pid:id) for the full error and stack trace. ` +
      `Fix the cause, then rerun all ${run.size} deploys: the quorum starts over with a clean count.`,
    { details: { ...where(run, generation), applier, remoteMessage: message } },
  );
}

function applierLost(run: Resolved, generation: number, state: QuorumState): QuorumError {
  const applier = state.decision?.kind === 'applier' ? state.decision.applier : 'the applier';
  return new QuorumError(
    `The applier ${applier} stopped renewing its lease (${run.leaseMs}ms) before it reported an outcome: ` +
      `it was killed, lost its machine or could not reach the ${run.backend.name} backend.\n` +
      `Its migrations may have been applied in part. Check what ran with:\n\n    knex-zd migrate:status\n\n` +
      `and the deploy log of ${applier}, then rerun all ${run.size} deploys: the quorum starts over with a clean count.`,
    { details: { ...where(run, generation), applier } },
  );
}

function timedOut(run: Resolved, generation: number, arrived: number): QuorumError {
  return new QuorumError(
    `Quorum timeout: only ${Math.min(arrived, run.size)} of ${run.size} deployers arrived within ${run.timeoutMs}ms, ` +
      `so nothing was applied.\nEvery deployer of this deploy stops; the quorum starts over with a clean count. ` +
      `Rerun all ${run.size} deploys together, check that they run the same migrations (a different plan is a ` +
      `different quorum), or give them more time:\n\n    knex-zd migrate:latest --quorum ${run.size} --quorum-timeout ${Math.ceil((run.timeoutMs * 2) / 1000)}`,
    { details: { ...where(run, generation), arrived } },
  );
}

function stateLost(run: Resolved, generation: number, arrival: number, arrived: number): QuorumError {
  return new QuorumError(
    `The ${run.backend.name} quorum backend (${run.backend.location}) lost the state of this deploy ` +
      `(it counts ${arrived} arrivals, this deployer was number ${arrival}): it restarted or evicted the keys.\n` +
      `This deployer stops rather than risk applying the plan twice. Check with 'knex-zd migrate:status' ` +
      `whether an applier ran, then rerun all ${run.size} deploys.`,
    { details: { ...where(run, generation), arrival, arrived } },
  );
}
