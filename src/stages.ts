import type { Settings } from './config.js';

/** When a migration may run: before the new code rolls out, or only after it has. */
export type Stage = 'pre-deploy' | 'post-deploy';

/** Every valid stage, in deploy order. */
export const STAGES: readonly Stage[] = Object.freeze(['pre-deploy', 'post-deploy']);

/**
 * Where a migration's stage came from: the file's `config.stage`, `stages.override`, the SQL,
 * `stages.fallback` as the knexfile sets it, or the built-in default for a migration whose SQL
 * decides no stage (pre-deploy: data-only work does not break old code).
 */
export type StageSource = 'file' | 'override' | 'inferred' | 'fallback' | 'default';

/** True when `value` is one of {@link STAGES}. */
export function isStage(value: unknown): value is Stage {
  return value === 'pre-deploy' || value === 'post-deploy';
}

/** The stage of undoing a migration of the given stage: reverting pre-deploy work is post-deploy work, and the other way round. */
export function invertStage(stage: Stage): Stage {
  return stage === 'pre-deploy' ? 'post-deploy' : 'pre-deploy';
}

/** The stages of a migration's statements, as inferred by analysis. */
export interface InferredStages {
  /** How many statements are pre-deploy work. */
  readonly pre: number;
  /** How many statements are post-deploy work. */
  readonly post: number;
}

/** The outcome of {@link resolveStage}. */
export type StageResolution =
  | { readonly stage: Stage; readonly source: StageSource }
  | { readonly stage: null; readonly source: null; readonly reason: 'mixed' | 'undetermined' };

/** Infers a stage from statement counts: all pre → pre; any post and no pre → post; a mix → `'mixed'`; nothing → `null`. */
export function inferStage(inferred: InferredStages | null | undefined): Stage | 'mixed' | null {
  if (!inferred) return null;
  if (inferred.pre > 0 && inferred.post > 0) return 'mixed';
  if (inferred.pre > 0) return 'pre-deploy';
  if (inferred.post > 0) return 'post-deploy';
  return null;
}

/**
 * Resolves a migration's stage, first match wins: the file's `config.stage`, then
 * `stages.override[name]`, then inference from its SQL, then `stages.fallback` (only for a
 * migration whose SQL decides no stage: one that mixes stages stays ambiguous).
 * An invalid declared stage must be rejected before this is called.
 */
export function resolveStage(input: {
  readonly name: string;
  readonly declared: Stage | undefined;
  readonly inferred: InferredStages | null | undefined;
  readonly settings: Pick<Settings, 'stages'>;
}): StageResolution {
  if (input.declared) return { stage: input.declared, source: 'file' };
  const override = input.settings.stages.override[input.name];
  if (override) return { stage: override, source: 'override' };
  const inferred = inferStage(input.inferred);
  if (inferred === 'pre-deploy' || inferred === 'post-deploy') return { stage: inferred, source: 'inferred' };
  if (inferred === 'mixed') return { stage: null, source: null, reason: 'mixed' };
  const { fallback, fallbackIsDefault } = input.settings.stages;
  if (fallback) return { stage: fallback, source: fallbackIsDefault ? 'default' : 'fallback' };
  return { stage: null, source: null, reason: 'undetermined' };
}
