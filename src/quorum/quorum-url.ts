import type { QuorumBackendName } from '../config.js';

const MEMCACHED_SERVER = /^(?:[^@\s,]+@)?(?:\[[0-9a-fA-F:]+\]|[^:@\s,/[\]]+)(?::\d{1,5})?$/;

/** An example URL of each backend that takes one, for messages. */
export const QUORUM_URL_EXAMPLES: Readonly<Record<'redis' | 'memcached', string>> = {
  redis: 'redis://127.0.0.1:6379',
  memcached: '127.0.0.1:11211',
};

/** The memjs server list of a Memcached URL: `memcached://` prefixes and trailing slashes removed. */
export function memcachedServers(url: string): string {
  return url
    .split(',')
    .map((part) => part.trim().replace(/^memcached:\/\//, '').replace(/\/$/, ''))
    .join(',');
}

/**
 * Why `url` cannot be the URL of `backend` (one clause, for a message), or `null` when it can.
 * Pure: the knexfile's `zeroDowntime.quorum.url` and the `--quorum-url` flag are both checked with it.
 */
export function quorumUrlProblem(backend: Exclude<QuorumBackendName, 'postgres'>, url: string): string | null {
  if (backend === 'redis') {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return `'${url}' is not a URL`;
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') return `'${parsed.protocol}' is not redis: or rediss:`;
    if (parsed.hostname === '') return 'it has no host';
    return null;
  }
  for (const server of memcachedServers(url).split(',')) {
    if (!MEMCACHED_SERVER.test(server)) return `'${server}' is not host:port`;
    const port = /:(\d+)$/.exec(server)?.[1];
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return `port ${port} is out of range`;
  }
  return null;
}
