import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * A deployer id that tells the other deployers where to look for its log: `host:pid:random`.
 * The random part tells apart containers that share a host name and a pid (pid 1).
 */
export function defaultDeployerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}
