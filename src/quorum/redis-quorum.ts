import type { Redis, RedisOptions } from 'ioredis';
import { QuorumError } from '../errors.js';
import { loadOptionalPeer } from './load-optional.js';
import { stateFromFields } from './state-fields.js';
import type { QuorumArrival, QuorumBackend, QuorumClaim, QuorumOutcome, QuorumState } from './types.js';

/** Options of {@link RedisQuorumBackend}. */
export interface RedisQuorumOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…`. */
  readonly url: string;
  /** Prefix of every key; the namespace is wrapped in `{}` so a cluster keeps a deploy's keys on one slot. @default 'knex-zd:quorum' */
  readonly keyPrefix?: string;
  /** How long `connect()` waits for the server. @default 3000 */
  readonly connectTimeoutMs?: number;
}

// Every script works on one namespace's keys only: `<p>:gen` (the open generation), `<p>:g:<n>`
// (a hash: arrived, decision, decidedBy, outcome, outcomeBy, message) and `<p>:g:<n>:lease`.
// Redis runs a script atomically, so each protocol step is a single, indivisible operation.

const ARRIVE = `
local p, ttl = KEYS[1], tonumber(ARGV[1])
local g = tonumber(redis.call('GET', p .. ':gen') or '0')
while redis.call('HEXISTS', p .. ':g:' .. g, 'outcome') == 1 do g = g + 1 end
local s = p .. ':g:' .. g
local k = redis.call('HINCRBY', s, 'arrived', 1)
redis.call('PEXPIRE', s, ttl)
redis.call('SET', p .. ':gen', g, 'PX', ttl)
return {g, k}`;

const READ = `
local s = KEYS[1] .. ':g:' .. ARGV[1]
return {redis.call('HGETALL', s), redis.call('EXISTS', s .. ':lease')}`;

const CLAIM = `
local p, s = KEYS[1], KEYS[1] .. ':g:' .. ARGV[1]
local kind, who, leaseMs, ttl = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
if redis.call('HEXISTS', s, 'arrived') == 0 then return 0 end
if redis.call('HEXISTS', s, 'decision') == 1 or redis.call('HEXISTS', s, 'outcome') == 1 then return 0 end
redis.call('HSET', s, 'decision', kind, 'decidedBy', who)
if kind == 'applier' then redis.call('SET', s .. ':lease', who, 'PX', leaseMs) end
redis.call('PEXPIRE', s, ttl)
redis.call('PEXPIRE', p .. ':gen', ttl)
return 1`;

const RENEW = `
local p, s = KEYS[1], KEYS[1] .. ':g:' .. ARGV[1]
local who, leaseMs, ttl = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('HEXISTS', s, 'outcome') == 1 then return 0 end
if redis.call('HGET', s, 'decidedBy') ~= who then return 0 end
redis.call('SET', s .. ':lease', who, 'PX', leaseMs)
redis.call('PEXPIRE', s, ttl)
redis.call('PEXPIRE', p .. ':gen', ttl)
return 1`;

// The generation pointer is only ever moved by ARRIVE (past settled generations), never here:
// an old applier that settles after a restart must not push a rerun's deployers apart.
const SETTLE = `
local s = KEYS[1] .. ':g:' .. ARGV[1]
if redis.call('HEXISTS', s, 'outcome') == 1 then return 0 end
redis.call('HSET', s, 'outcome', ARGV[2], 'outcomeBy', ARGV[3], 'message', ARGV[4])
redis.call('DEL', s .. ':lease')
redis.call('PEXPIRE', s, tonumber(ARGV[5]))
return 1`;

function redactedLocation(url: string): string {
  const parsed = new URL(url);
  parsed.password = '';
  parsed.username = '';
  return parsed.toString();
}

/**
 * Quorum state in Redis (ioredis, loaded only when this backend is used): one Lua script per step,
 * `HINCRBY` for arrivals, a `PX` key for the applier's lease, `PEXPIRE` on every key.
 */
export class RedisQuorumBackend implements QuorumBackend {
  readonly name = 'redis';
  readonly location: string;
  readonly #options: RedisQuorumOptions;
  #client: Redis | null = null;

  constructor(options: RedisQuorumOptions) {
    this.#options = options;
    this.location = redactedLocation(options.url);
  }

  async connect(): Promise<void> {
    if (this.#client !== null) return;
    const mod = await loadOptionalPeer<{ Redis?: typeof Redis; default?: typeof Redis }>('ioredis', 'redis');
    const RedisClass = (mod.Redis ?? mod.default)!;
    const timeout = this.#options.connectTimeoutMs ?? 3000;
    let connected = false;
    const options: RedisOptions = {
      lazyConnect: true,
      connectTimeout: timeout,
      commandTimeout: Math.max(timeout, 5000),
      maxRetriesPerRequest: 2,
      // Before the first connection a failure must be reported at once (nothing has been applied
      // yet); afterwards, reconnect for a while so that a short blip does not fail the deploy.
      retryStrategy: (times) => (connected && times <= 20 ? Math.min(times * 100, 1000) : null),
    };
    const client = new RedisClass(this.#options.url, options);
    client.on('error', () => {
      // Errors reach the caller through the rejected commands; without a listener ioredis would log them.
    });
    try {
      await client.connect();
      await client.ping();
      connected = true;
    } catch (error) {
      client.disconnect();
      throw new QuorumError(
        `Cannot reach the Redis quorum backend at ${this.location}: ${(error as Error).message}.\n` +
          `Nothing was applied. Check zeroDowntime.quorum.url (or --quorum-url) and that Redis is up:\n\n` +
          `    redis-cli -u '${this.location}' ping`,
        { cause: error, details: { backend: this.name, location: this.location } },
      );
    }
    this.#client = client;
  }

  #redis(): Redis {
    if (this.#client === null) throw new QuorumError('RedisQuorumBackend: call connect() first.');
    return this.#client;
  }

  #prefix(namespace: string): string {
    return `${this.#options.keyPrefix ?? 'knex-zd:quorum'}:{${namespace}}`;
  }

  async arrive(namespace: string, ttlMs: number): Promise<QuorumArrival> {
    const [generation, arrival] = (await this.#redis().eval(ARRIVE, 1, this.#prefix(namespace), ttlMs)) as [number, number];
    return { generation: Number(generation), arrival: Number(arrival) };
  }

  async read(namespace: string, generation: number): Promise<QuorumState> {
    const [flat, lease] = (await this.#redis().eval(READ, 1, this.#prefix(namespace), generation)) as [string[], number];
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]] = flat[i + 1]!;
    return stateFromFields(fields, lease === 1);
  }

  async claim(namespace: string, generation: number, claim: QuorumClaim, ttlMs: number): Promise<boolean> {
    const who = claim.kind === 'applier' ? claim.applier : claim.by;
    const leaseMs = claim.kind === 'applier' ? claim.leaseMs : 0;
    const won = await this.#redis().eval(CLAIM, 1, this.#prefix(namespace), generation, claim.kind, who, leaseMs, ttlMs);
    return won === 1;
  }

  async renewLease(namespace: string, generation: number, applier: string, leaseMs: number, ttlMs: number): Promise<boolean> {
    const renewed = await this.#redis().eval(RENEW, 1, this.#prefix(namespace), generation, applier, leaseMs, ttlMs);
    return renewed === 1;
  }

  async settle(namespace: string, generation: number, outcome: QuorumOutcome, ttlMs: number): Promise<boolean> {
    const settled = await this.#redis().eval(
      SETTLE,
      1,
      this.#prefix(namespace),
      generation,
      outcome.kind,
      outcome.by,
      outcome.message ?? '',
      ttlMs,
    );
    return settled === 1;
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    if (client === null) return;
    try {
      await client.quit();
    } catch {
      client.disconnect();
    }
  }
}
