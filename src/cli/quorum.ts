import { ConfigError } from '../errors.js';
import type { MigrateResult, MigrationPlan } from '../migrator/staged-migrator.js';
import type { Project } from './context.js';
import { stringFlag, type ParsedFlags } from './flags.js';
import type { Output } from './output.js';

/** The `zeroDowntime.quorum` overrides the quorum flags make. */
export function quorumOverrides(values: ParsedFlags['values']): Record<string, unknown> {
  const quorum: Record<string, unknown> = {};
  const backend = stringFlag(values, 'quorum-backend');
  const url = stringFlag(values, 'quorum-url');
  const timeout = stringFlag(values, 'quorum-timeout');
  if (backend !== undefined) quorum.backend = backend;
  if (url !== undefined) quorum.url = url;
  if (timeout !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(timeout.trim()) || Number(timeout) <= 0) {
      throw new ConfigError(`--quorum-timeout must be a positive number of seconds; got ${JSON.stringify(timeout)}.`);
    }
    quorum.timeout = `${timeout.trim()}s`;
  }
  return Object.keys(quorum).length > 0 ? { quorum } : {};
}

/** Applies the plan, coordinated with the other deployers when `size` > 1. */
export async function applyWithQuorum(
  _project: Project,
  plan: MigrationPlan,
  size: number,
  apply: () => Promise<MigrateResult>,
  _output: Output,
): Promise<MigrateResult> {
  if (size <= 1 || plan.migrations.length === 0) return apply();
  throw new ConfigError('--quorum is not available in this build.');
}
