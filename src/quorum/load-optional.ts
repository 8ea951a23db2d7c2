import { QuorumError } from '../errors.js';

/**
 * Imports an optional peer dependency (`ioredis`, `memjs`) only when its backend is chosen.
 * @internal
 */
export async function loadOptionalPeer<T>(pkg: string, backend: string): Promise<T> {
  try {
    // The module namespace as is: CommonJS packages show their exports both as named and as `default`.
    return (await import(pkg)) as T;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new QuorumError(
        `The '${backend}' quorum backend needs the '${pkg}' package, which is not installed.\n` +
          `Install it next to knex-zero-downtime:\n\n    npm install ${pkg}\n\n` +
          `or use the PostgreSQL backend, which needs nothing more:\n\n    zeroDowntime: { quorum: { backend: 'postgres' } }`,
        { cause: error, details: { backend, package: pkg } },
      );
    }
    throw new QuorumError(`Could not load '${pkg}' for the '${backend}' quorum backend: ${(error as Error).message}`, {
      cause: error,
      details: { backend, package: pkg },
    });
  }
}
