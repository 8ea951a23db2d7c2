import type { QuorumBackendName, Settings } from '../config.js';
import { ConfigError } from '../errors.js';
import { validateQuorumUrl } from './create-backend.js';

/** The quorum flags of `knex-zd migrate:latest`, as the argument parser hands them over (strings or numbers). */
export interface QuorumFlags {
  /** `--quorum N` */
  readonly quorum?: unknown;
  /** `--quorum-timeout SECONDS` */
  readonly quorumTimeout?: unknown;
  /** `--quorum-backend postgres|redis|memcached` */
  readonly quorumBackend?: unknown;
  /** `--quorum-url URL` */
  readonly quorumUrl?: unknown;
}

/** Everything `runWithQuorum` and `createQuorumBackend` need, validated. */
export interface ResolvedQuorumOptions {
  readonly size: number;
  readonly timeoutMs: number;
  readonly leaseMs: number;
  readonly backend: QuorumBackendName;
  readonly url: string | null;
}

const BACKENDS: readonly QuorumBackendName[] = ['postgres', 'redis', 'memcached'];

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/**
 * Merges the quorum flags over `settings.quorum` and validates them, before anything connects or applies.
 * Returns `null` when `--quorum` was not given. Throws a {@link ConfigError} naming the flag.
 */
export function resolveQuorumOptions(flags: QuorumFlags, settings: Settings['quorum']): ResolvedQuorumOptions | null {
  if (flags.quorum === undefined || flags.quorum === null || flags.quorum === false) {
    if (flags.quorumTimeout !== undefined || flags.quorumBackend !== undefined || flags.quorumUrl !== undefined) {
      throw new ConfigError('--quorum-timeout, --quorum-backend and --quorum-url only apply with --quorum N.', {
        details: { option: '--quorum' },
      });
    }
    return null;
  }
  const raw = typeof flags.quorum === 'string' ? flags.quorum.trim() : flags.quorum;
  const size = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) {
    throw new ConfigError(
      `--quorum must be the number of deployers that run this deploy, a whole number of at least 1; got ${show(flags.quorum)}.\n` +
        `For three clusters sharing the database:\n\n    knex-zd migrate:latest --pre-deploy --quorum 3`,
      { details: { option: '--quorum', value: flags.quorum } },
    );
  }

  let timeoutMs = settings.timeout;
  if (flags.quorumTimeout !== undefined) {
    const rawTimeout = typeof flags.quorumTimeout === 'string' ? flags.quorumTimeout.trim() : flags.quorumTimeout;
    const secondsValue =
      typeof rawTimeout === 'string' && /^\d+(?:\.\d+)?$/.test(rawTimeout) ? Number(rawTimeout) : rawTimeout;
    if (typeof secondsValue !== 'number' || !Number.isFinite(secondsValue) || secondsValue <= 0) {
      throw new ConfigError(
        `--quorum-timeout must be a number of seconds greater than 0; got ${show(flags.quorumTimeout)}. For 10 minutes:\n\n` +
          `    --quorum-timeout 600`,
        { details: { option: '--quorum-timeout', value: flags.quorumTimeout } },
      );
    }
    timeoutMs = Math.round(secondsValue * 1000);
  }

  const backend = (flags.quorumBackend ?? settings.backend) as QuorumBackendName;
  if (!BACKENDS.includes(backend)) {
    throw new ConfigError(
      `--quorum-backend must be one of 'postgres', 'redis', 'memcached'; got ${show(flags.quorumBackend)}.`,
      { details: { option: '--quorum-backend', value: flags.quorumBackend } },
    );
  }
  // A URL from the knexfile belongs to the knexfile's backend; a flag that switches backends needs its own.
  const url =
    flags.quorumUrl !== undefined
      ? typeof flags.quorumUrl === 'string'
        ? flags.quorumUrl
        : JSON.stringify(flags.quorumUrl)
      : flags.quorumBackend === undefined || flags.quorumBackend === settings.backend
        ? settings.url
        : null;
  validateQuorumUrl(backend, url);
  return { size, timeoutMs, leaseMs: settings.lease, backend, url: backend === 'postgres' ? null : url };
}
