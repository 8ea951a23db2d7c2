/**
 * The deploy player: application workers that send requests in a loop while a deploy goes
 * through its phases, and per phase and per side (old code, new code) how many requests ran,
 * how many failed, and the longest a single request took (the stall a user would feel).
 */

/** Which version of the code a worker runs. */
export type SideName = 'old' | 'new';

/** One request of one side: resolves when served, throws when it failed. */
export type Request = () => Promise<unknown>;

/** What one side did during one phase. */
export interface SideStats {
  queries: number;
  failed: number;
  /** The longest a single request took, in milliseconds (failed requests included). */
  longestStallMs: number;
  /** Failure messages and how often each occurred. */
  errors: Map<string, number>;
}

/** One phase of a deploy: which sides serve traffic, and the work that runs meanwhile. */
export interface Phase {
  readonly name: string;
  readonly sides: readonly SideName[];
  /** The migration step (or nothing), run while the traffic flows. */
  readonly work?: () => Promise<void>;
  /** The phase lasts at least this long, so that traffic is seen before and after the work. */
  readonly minDurationMs: number;
}

/** What happened in a phase. */
export interface PhaseResult {
  readonly name: string;
  readonly durationMs: number;
  /** How long the phase's work took; null when it had none. */
  readonly workMs: number | null;
  /** The work's error, if it failed (the traffic results are still reported). */
  readonly workError: Error | null;
  readonly sides: Partial<Record<SideName, SideStats>>;
}

/** Options of {@link playDeploy}. */
export interface PlayOptions {
  /** Requests for each side; each worker picks one per iteration. */
  readonly requests: Record<SideName, () => Request>;
  /** Concurrent workers per serving side. @default 2 */
  readonly workersPerSide?: number;
  /** Pause between two requests of one worker, in ms. @default 2 */
  readonly pauseMs?: number;
  /** Called about every `tickMs` with the running phase's numbers (for a progress line). */
  readonly onTick?: (phase: string, sides: Partial<Record<SideName, SideStats>>, elapsedMs: number) => void;
  /** @default 250 */
  readonly tickMs?: number;
  /** Aborts the deploy between requests (Ctrl-C). */
  readonly signal?: AbortSignal;
}

/** A fresh, empty tally. */
export function emptyStats(): SideStats {
  return { queries: 0, failed: 0, longestStallMs: 0, errors: new Map() };
}

/** Records one request's outcome in `stats`. */
export function record(stats: SideStats, elapsedMs: number, error: unknown): void {
  stats.queries += 1;
  if (elapsedMs > stats.longestStallMs) stats.longestStallMs = elapsedMs;
  if (error !== undefined) {
    stats.failed += 1;
    const message = error instanceof Error ? error.message.split('\n')[0].replace(/^.* - /, '') : typeof error === 'string' ? error : 'request failed';
    stats.errors.set(message, (stats.errors.get(message) ?? 0) + 1);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Plays the phases in order. Each phase starts the workers of its sides, runs its work, waits
 * for the minimum duration, then stops the workers and waits for their last request, so every
 * request is counted in the phase where it started.
 */
export async function playDeploy(phases: readonly Phase[], options: PlayOptions): Promise<PhaseResult[]> {
  const workers = options.workersPerSide ?? 2;
  const pauseMs = options.pauseMs ?? 2;
  const results: PhaseResult[] = [];
  for (const phase of phases) {
    if (options.signal?.aborted) break;
    const sides: Partial<Record<SideName, SideStats>> = {};
    let running = true;
    const loops: Promise<void>[] = [];
    for (const side of phase.sides) {
      const stats = emptyStats();
      sides[side] = stats;
      const next = options.requests[side];
      for (let w = 0; w < workers; w += 1) {
        loops.push(
          (async () => {
            while (running && !options.signal?.aborted) {
              const request = next();
              const started = performance.now();
              let failure: unknown = undefined;
              try {
                await request();
              } catch (error) {
                failure = error ?? new Error('request failed');
              }
              record(stats, performance.now() - started, failure);
              if (pauseMs > 0) await sleep(pauseMs);
            }
          })(),
        );
      }
    }
    const started = performance.now();
    const ticker = options.onTick
      ? setInterval(() => options.onTick?.(phase.name, sides, performance.now() - started), options.tickMs ?? 250)
      : null;
    let workMs: number | null = null;
    let workError: Error | null = null;
    try {
      if (phase.work) {
        const workStarted = performance.now();
        try {
          await phase.work();
        } catch (error) {
          workError = error instanceof Error ? error : new Error(String(error));
        }
        workMs = performance.now() - workStarted;
      }
      const left = phase.minDurationMs - (performance.now() - started);
      if (left > 0 && !options.signal?.aborted) await sleep(left);
    } finally {
      running = false;
      await Promise.all(loops);
      if (ticker) clearInterval(ticker);
    }
    options.onTick?.(phase.name, sides, performance.now() - started);
    results.push({ name: phase.name, durationMs: performance.now() - started, workMs, workError, sides });
  }
  return results;
}

/** Turns weighted actions into a request picker: each call returns one request, chosen by weight. */
export function weightedPicker<T>(items: ReadonlyArray<{ readonly weight: number; readonly value: T }>, random: () => number = Math.random): () => T {
  const total = items.reduce((sum, item) => sum + item.weight, 0);
  if (items.length === 0 || total <= 0) throw new Error('weightedPicker needs at least one item with a positive weight');
  return () => {
    let point = random() * total;
    for (const item of items) {
      point -= item.weight;
      if (point < 0) return item.value;
    }
    return items[items.length - 1].value;
  };
}

/** Sums the failed requests of every side of every phase. */
export function totalFailed(results: readonly PhaseResult[]): number {
  return results.reduce((sum, phase) => sum + Object.values(phase.sides).reduce((s, stats) => s + (stats?.failed ?? 0), 0), 0);
}
