import type { Client } from 'memjs';
import { QuorumError } from '../errors.js';
import { loadOptionalPeer } from './load-optional.js';
import { memcachedServers } from './quorum-url.js';
import { stateFromFields } from './state-fields.js';
import type { QuorumArrival, QuorumBackend, QuorumClaim, QuorumOutcome, QuorumState } from './types.js';

/** Options of {@link MemcachedQuorumBackend}. */
export interface MemcachedQuorumOptions {
  /** `host:port`, `memcached://[user:password@]host:port`, or a comma-separated list of servers. */
  readonly url: string;
  /** Prefix of every key. @default 'knex-zd:quorum' */
  readonly keyPrefix?: string;
  /** How long `connect()` and each operation wait for the server. @default 3000 */
  readonly connectTimeoutMs?: number;
}

// Memcached expiry times are whole seconds above 0, and 30 days and more means "a Unix time".
const MAX_RELATIVE_TTL_S = 30 * 24 * 3600 - 1;

function seconds(ms: number): number {
  return Math.min(MAX_RELATIVE_TTL_S, Math.max(1, Math.ceil(ms / 1000)));
}

function redacted(servers: string): string {
  return servers
    .split(',')
    .map((server) => server.replace(/^[^@]*@/, ''))
    .join(',');
}

interface Decision {
  kind: 'applier' | 'timeout';
  by: string;
}

/**
 * Quorum state in Memcached (memjs, loaded only when this backend is used). Memcached has no
 * transactions, so every step is built from its atomic primitives: `incr` (created with an initial
 * value) counts arrivals, `add` (which fails when the key exists) makes the decision and the outcome
 * write-once, and every key carries an expiry.
 */
export class MemcachedQuorumBackend implements QuorumBackend {
  readonly name = 'memcached';
  readonly location: string;
  readonly #options: MemcachedQuorumOptions;
  readonly #servers: string;
  #client: Client | null = null;
  #createClient: (() => Client) | null = null;

  constructor(options: MemcachedQuorumOptions) {
    this.#options = options;
    this.#servers = memcachedServers(options.url);
    this.location = redacted(this.#servers);
  }

  async connect(): Promise<void> {
    if (this.#client !== null) return;
    const mod = await loadOptionalPeer<{ Client?: typeof Client; default?: { Client: typeof Client } }>('memjs', 'memcached');
    const ClientClass = (mod.Client ?? mod.default?.Client)!;
    const timeoutS = this.#timeoutMs() / 1000;
    const create = (): Client =>
      ClientClass.create(this.#servers, {
        retries: 2,
        retry_delay: 0.1,
        timeout: timeoutS,
        conntimeout: timeoutS,
        // memjs logs through console by default; the library must stay silent.
        logger: { log: () => undefined },
      });
    const client = create();
    try {
      // `stats` answers per server; a write and a read prove the server accepts our keys.
      const probe = `${this.#keyPrefix()}:probe:${process.pid}`;
      await this.#deadline('set', client, client.set(probe, '1', { expires: 5 }));
      await this.#deadline('get', client, client.get(probe));
    } catch (error) {
      client.close();
      throw new QuorumError(
        `Cannot reach the Memcached quorum backend at ${this.location}: ${(error as Error).message}.\n` +
          `Nothing was applied. Check zeroDowntime.quorum.url (or --quorum-url), e.g. '127.0.0.1:11211', and that memcached is up.`,
        { cause: error, details: { backend: this.name, location: this.location } },
      );
    }
    this.#client = client;
    this.#createClient = create;
  }

  #timeoutMs(): number {
    return this.#options.connectTimeoutMs ?? 3000;
  }

  #deadlineMs(): number {
    return 4 * this.#timeoutMs() + 1000;
  }

  /**
   * Bounds one memjs call. memjs neither answers nor fails a request that was in flight when the
   * server closed the connection (a restart): its own timeout lives on the dead socket, so the
   * promise never settles, and a deployer with nothing else to wait on would exit without an
   * outcome. The deadline leaves memjs its own retries (2 attempts, each a connection and a request
   * timeout); on the deadline the client is replaced, since its connection state is then suspect.
   */
  async #deadline<T>(what: string, client: Client, promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            if (this.#client === client && this.#createClient !== null) {
              this.#client = this.#createClient();
              client.close();
            }
            reject(new Error(`memcached did not answer a ${what} within ${this.#deadlineMs()}ms`));
          }, this.#deadlineMs());
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The client, every call bounded by {@link #deadline}. */
  #mc(): Pick<Client, 'get' | 'set' | 'add' | 'touch' | 'increment' | 'delete'> {
    const client = this.#client;
    if (client === null) throw new QuorumError('MemcachedQuorumBackend: call connect() first.');
    return {
      get: (key: string) => this.#deadline('get', client, client.get(key)),
      set: ((key: string, value: string, options: { expires?: number }) => this.#deadline('set', client, client.set(key, value, options))) as Client['set'],
      add: ((key: string, value: string, options: { expires?: number }) => this.#deadline('add', client, client.add(key, value, options))) as Client['add'],
      touch: ((key: string, expires: number) => this.#deadline('touch', client, client.touch(key, expires))) as Client['touch'],
      increment: ((key: string, amount: number, options: { initial?: number; expires?: number }) =>
        this.#deadline('incr', client, client.increment(key, amount, options))) as Client['increment'],
      delete: (key: string) => this.#deadline('delete', client, client.delete(key)),
    };
  }

  #keyPrefix(): string {
    return this.#options.keyPrefix ?? 'knex-zd:quorum';
  }

  #key(namespace: string, generation: number | null, field: string): string {
    return generation === null
      ? `${this.#keyPrefix()}:${namespace}:${field}`
      : `${this.#keyPrefix()}:${namespace}:${generation}:${field}`;
  }

  async #getString(key: string): Promise<string | null> {
    const { value } = await this.#mc().get(key);
    return value === null || value === undefined ? null : value.toString();
  }

  async #getJson<T>(key: string): Promise<T | null> {
    const text = await this.#getString(key);
    if (text === null) return null;
    try {
      return JSON.parse(text) as T;
    } catch {
      return null;
    }
  }

  async arrive(namespace: string, ttlMs: number): Promise<QuorumArrival> {
    const mc = this.#mc();
    const ttl = seconds(ttlMs);
    const hint = Number((await this.#getString(this.#key(namespace, null, 'gen'))) ?? 0);
    let generation = Number.isInteger(hint) && hint >= 0 ? hint : 0;
    for (;;) {
      if ((await this.#getString(this.#key(namespace, generation, 'outcome'))) !== null) {
        generation++;
        continue;
      }
      const counter = this.#key(namespace, generation, 'arrived');
      const value = await this.#increment(counter, ttl);
      // The expiry given to incr only applies when it creates the key: refresh it for later arrivals.
      await mc.touch(counter, ttl);
      // Counted just after the generation was settled: this arrival belongs to the next one.
      if ((await this.#getString(this.#key(namespace, generation, 'outcome'))) !== null) {
        generation++;
        continue;
      }
      await mc.set(this.#key(namespace, null, 'gen'), String(generation), { expires: ttl });
      return { generation, arrival: value };
    }
  }

  /** `incr` that creates the counter at 1; retried because two first arrivals can both try to create it. */
  async #increment(counter: string, ttl: number): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { value } = await this.#mc().increment(counter, 1, { initial: 1, expires: ttl });
        if (typeof value === 'number') return value;
        throw new Error(`memcached did not return a value when incrementing ${counter}`);
      } catch (error) {
        // The loser of a creation race gets NOT_STORED; the counter exists by now, so try again.
        if (attempt >= 5 || !/not stored|exists/i.test((error as Error).message)) throw error;
      }
    }
  }

  async read(namespace: string, generation: number): Promise<QuorumState> {
    const [arrived, decision, outcome] = await Promise.all([
      this.#getString(this.#key(namespace, generation, 'arrived')),
      this.#getJson<Decision>(this.#key(namespace, generation, 'decision')),
      this.#getJson<{ kind: string; by: string; message: string | null }>(this.#key(namespace, generation, 'outcome')),
    ]);
    let leaseAlive = false;
    if (decision?.kind === 'applier') {
      leaseAlive = (await this.#getString(this.#leaseKey(namespace, generation, decision.by))) !== null;
    }
    return stateFromFields(
      {
        arrived: arrived === null ? 0 : arrived.trim(),
        decision: decision?.kind ?? null,
        decidedBy: decision?.by ?? null,
        outcome: outcome?.kind ?? null,
        outcomeBy: outcome?.by ?? null,
        message: outcome?.message ?? null,
      },
      leaseAlive,
    );
  }

  // One lease key per applier: a claimant that loses the race must not overwrite the winner's lease.
  #leaseKey(namespace: string, generation: number, applier: string): string {
    return this.#key(namespace, generation, `lease:${applier.replace(/[^\w.:-]/g, '_')}`);
  }

  #leaseSeconds(leaseMs: number): number {
    // Memcached's clock ticks once a second, so a key may expire up to a second early.
    return seconds(leaseMs) + 1;
  }

  async claim(namespace: string, generation: number, claim: QuorumClaim, ttlMs: number): Promise<boolean> {
    const mc = this.#mc();
    if ((await this.#getString(this.#key(namespace, generation, 'arrived'))) === null) return false;
    const who = claim.kind === 'applier' ? claim.applier : claim.by;
    if (claim.kind === 'applier') {
      // The lease exists before the decision names its applier, so no waiter sees an applier without one.
      await mc.set(this.#leaseKey(namespace, generation, who), '1', { expires: this.#leaseSeconds(claim.leaseMs) });
    }
    const decision: Decision = { kind: claim.kind, by: who };
    const won = await mc.add(this.#key(namespace, generation, 'decision'), JSON.stringify(decision), {
      expires: seconds(ttlMs),
    });
    if (!won) return false;
    return (await this.#getString(this.#key(namespace, generation, 'outcome'))) === null;
  }

  async renewLease(namespace: string, generation: number, applier: string, leaseMs: number, ttlMs: number): Promise<boolean> {
    const mc = this.#mc();
    const [decision, outcome] = await Promise.all([
      this.#getJson<Decision>(this.#key(namespace, generation, 'decision')),
      this.#getString(this.#key(namespace, generation, 'outcome')),
    ]);
    if (outcome !== null || decision?.kind !== 'applier' || decision.by !== applier) return false;
    await mc.set(this.#leaseKey(namespace, generation, applier), '1', { expires: this.#leaseSeconds(leaseMs) });
    const ttl = seconds(ttlMs);
    await Promise.all([
      mc.touch(this.#key(namespace, generation, 'arrived'), ttl),
      mc.touch(this.#key(namespace, generation, 'decision'), ttl),
      mc.touch(this.#key(namespace, null, 'gen'), ttl),
    ]);
    return true;
  }

  async settle(namespace: string, generation: number, outcome: QuorumOutcome, ttlMs: number): Promise<boolean> {
    const mc = this.#mc();
    const won = await mc.add(this.#key(namespace, generation, 'outcome'), JSON.stringify(outcome), {
      expires: seconds(ttlMs),
    });
    if (won && outcome.kind !== 'applier-lost') {
      const decision = await this.#getJson<Decision>(this.#key(namespace, generation, 'decision'));
      if (decision?.kind === 'applier') await mc.delete(this.#leaseKey(namespace, generation, decision.by));
    }
    return won;
  }

  close(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    client?.close();
    return Promise.resolve();
  }
}
