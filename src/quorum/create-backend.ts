import type { Knex } from 'knex';
import type { QuorumBackendName } from '../config.js';
import { ConfigError } from '../errors.js';
import { MemcachedQuorumBackend } from './memcached-quorum.js';
import { PostgresQuorumBackend } from './postgres-quorum.js';
import { QUORUM_URL_EXAMPLES, quorumUrlProblem } from './quorum-url.js';
import { RedisQuorumBackend } from './redis-quorum.js';
import type { QuorumBackend } from './types.js';

/** Which backend to create: the shape of `settings.quorum`, after flags have been applied. */
export interface QuorumBackendOptions {
  /** @default 'postgres' */
  readonly backend?: QuorumBackendName;
  /** Redis or Memcached URL; ignored by the PostgreSQL backend. */
  readonly url?: string | null;
  /** How long to wait for the backend before giving up, before anything is applied. @default 3000 */
  readonly connectTimeoutMs?: number;
}

/** What the backends may need from the caller. */
export interface QuorumBackendContext {
  /** A knex instance on the target database; required by the PostgreSQL backend. */
  readonly knex?: Knex;
}

/** Checks a backend's URL; throws a {@link ConfigError} that names the option and shows a valid example. */
export function validateQuorumUrl(backend: QuorumBackendName, url: string | null | undefined): void {
  if (backend === 'postgres') return;
  const example = QUORUM_URL_EXAMPLES[backend];
  const why = typeof url !== 'string' || url.trim() === '' ? 'none was given' : quorumUrlProblem(backend, url);
  if (why === null) return;
  throw new ConfigError(
    `The ${backend} quorum backend needs a URL (zeroDowntime.quorum.url or --quorum-url): ${why}. For example:\n\n` +
      `    --quorum-backend ${backend} --quorum-url ${example}`,
    { details: { option: 'zeroDowntime.quorum.url', backend } },
  );
}

/**
 * Creates the configured quorum backend and connects to it, so that a wrong URL or a backend that is
 * down fails with a clear {@link QuorumError} before anything is applied. Close it when done.
 * @example
 * const backend = await createQuorumBackend(settings.quorum, { knex });
 */
export async function createQuorumBackend(
  options: QuorumBackendOptions,
  context: QuorumBackendContext = {},
): Promise<QuorumBackend> {
  const name = options.backend ?? 'postgres';
  let backend: QuorumBackend;
  switch (name) {
    case 'postgres':
      if (context.knex === undefined) {
        throw new ConfigError('The postgres quorum backend needs the knex instance of the target database: createQuorumBackend(options, { knex }).');
      }
      backend = new PostgresQuorumBackend({ knex: context.knex, connectTimeoutMs: options.connectTimeoutMs ?? 10_000 });
      break;
    case 'redis':
      validateQuorumUrl(name, options.url);
      backend = new RedisQuorumBackend({ url: options.url!, connectTimeoutMs: options.connectTimeoutMs ?? 3000 });
      break;
    case 'memcached':
      validateQuorumUrl(name, options.url);
      backend = new MemcachedQuorumBackend({ url: options.url!, connectTimeoutMs: options.connectTimeoutMs ?? 3000 });
      break;
    default:
      throw new ConfigError(
        `Unknown quorum backend ${JSON.stringify(name)}: use 'postgres' (the default, no extra infrastructure), 'redis' or 'memcached'.`,
        { details: { option: 'zeroDowntime.quorum.backend' } },
      );
  }
  await backend.connect();
  return backend;
}
