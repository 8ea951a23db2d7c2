import { EventEmitter } from 'node:events';
import { DEFAULT_HOT_UPGRADE_MAX_STALENESS_MS } from '../config.js';
import { parseDuration, type Duration } from '../duration.js';
import { HotUpgradeError } from '../errors.js';
import { ConnectionTypes, type TypeParsingClient } from './connection-types.js';
import { movedTypes, readServerTypes, RESOLVE_TYPES_SQL, isServerChange, type MovedType, type ServerTypes } from './server-types.js';
import { splitTypeName, toTypeDefinition, type TypeDefinition, type TypeName, type TypeParser } from './type-definition.js';

/** Payload of the `serverChange` event. */
export interface ServerChangeEvent {
  /** The server seen before, e.g. `{ versionNum: 150020, version: '15.20', types: { hstore: { oid: 16386, arrayOid: 16391 } } }`. */
  readonly previous: ServerTypes;
  /** The server seen now. */
  readonly current: ServerTypes;
  /** The registered types whose OIDs differ between the two. */
  readonly moved: readonly MovedType[];
}

/** Events of a {@link TypeRegistry}. */
export interface TypeRegistryEvents {
  /** A connection found a server other than the last one seen (another version, or registered types at other OIDs). */
  serverChange: [event: ServerChangeEvent];
}

/** Options of a {@link TypeRegistry}. */
export interface TypeRegistryOptions {
  /** Types to keep parsed: built-in names (`'hstore'`, `'citext'`) or definitions. @default [] */
  types?: ReadonlyArray<TypeDefinition | string>;
  /** Longest time a pooled connection keeps its OIDs without looking again. @default '30s' */
  maxStaleness?: Duration;
  /** Milliseconds clock; tests replace it. @default performance.now */
  now?: () => number;
}

/**
 * Type parsers keyed by type name, resolved to OIDs per connection and re-resolved when the
 * server behind the connection changes. Emits `serverChange`.
 *
 * @example
 * ```ts
 * const registry = new TypeRegistry({ types: ['hstore', 'citext'] });
 * registry.registerType('vector', (text) => JSON.parse(text));
 * registry.on('serverChange', ({ previous, current, moved }) => log.warn({ previous, current, moved }));
 * ```
 */
export class TypeRegistry extends EventEmitter<TypeRegistryEvents> {
  /** Longest time, in milliseconds, that a pooled connection keeps its OIDs without looking again. */
  readonly maxStaleness: number;
  private readonly now: () => number;
  private readonly definitions = new Map<string, TypeDefinition>();
  private names = new Map<string, TypeName>();
  private generation = 0;
  private lastServer: ServerTypes | null = null;
  private readonly connections = new WeakMap<object, ConnectionTypes>();
  private lookups = 0;

  constructor(options: TypeRegistryOptions = {}) {
    super();
    this.maxStaleness =
      options.maxStaleness === undefined ? DEFAULT_HOT_UPGRADE_MAX_STALENESS_MS : parseDuration(options.maxStaleness, 'maxStaleness');
    this.now = options.now ?? (() => performance.now());
    for (const entry of options.types ?? []) this.add(toTypeDefinition(entry));
  }

  /**
   * Registers a type to keep parsed, by name (optionally schema-qualified); its array type is parsed too
   * unless `array: false`. Connections look its OID up before their next query.
   *
   * @example
   * ```ts
   * registry.registerType('vector', (text) => JSON.parse(text) as number[]); // pgvector: '[1,2,3]'
   * registry.registerType(hstoreType);
   * ```
   */
  registerType(name: string, parse: TypeParser, options?: { array?: boolean }): this;
  registerType(definition: TypeDefinition | string): this;
  registerType(nameOrDefinition: TypeDefinition | string, parse?: TypeParser, options: { array?: boolean } = {}): this {
    const definition =
      typeof nameOrDefinition === 'string' && parse !== undefined
        ? toTypeDefinition({ name: nameOrDefinition, parse, ...options })
        : toTypeDefinition(nameOrDefinition);
    this.add(definition);
    return this;
  }

  /** The registered types, in registration order. */
  get types(): readonly TypeDefinition[] {
    return [...this.definitions.values()];
  }

  /** The server that the latest lookup saw, or `null` before the first one. */
  get server(): ServerTypes | null {
    return this.lastServer;
  }

  /** How many type lookups ran (one round trip each). */
  get lookupCount(): number {
    return this.lookups;
  }

  /** The server that `connection`'s parsers were resolved on, or `null` if it was never looked up. */
  serverOf(connection: object): ServerTypes | null {
    return this.connections.get(connection)?.server ?? null;
  }

  /**
   * Makes a new connection's parsers right for its server: one round trip, none when no type is registered.
   * @internal
   */
  async prepareConnection(client: TypeParsingClient): Promise<void> {
    if (this.definitions.size === 0) return;
    await this.lookUp(client, this.stateOf(client));
  }

  /**
   * Before a pooled connection is handed out: looks again when its lookup is older than `maxStaleness`
   * or a type was registered since. Resolves `false` when the lookup failed (the pool then replaces the connection).
   * @internal
   */
  async revalidateConnection(client: TypeParsingClient): Promise<boolean> {
    if (this.definitions.size === 0) return true;
    const state = this.stateOf(client);
    if (state.generation === this.generation && this.now() - state.checkedAt < this.maxStaleness) return true;
    try {
      await this.lookUp(client, state);
      return true;
    } catch {
      return false;
    }
  }

  private add(definition: TypeDefinition): void {
    this.definitions.delete(definition.name);
    this.definitions.set(definition.name, definition);
    const names = new Map(this.names);
    names.set(definition.name, splitTypeName(definition.name));
    this.names = names;
    this.generation++;
  }

  private stateOf(client: TypeParsingClient): ConnectionTypes {
    let state = this.connections.get(client);
    if (!state) {
      state = new ConnectionTypes();
      this.connections.set(client, state);
    }
    return state;
  }

  private async lookUp(client: TypeParsingClient, state: ConnectionTypes): Promise<void> {
    const generation = this.generation;
    const names = this.names;
    const definitions = this.types;
    const typnames = [...new Set([...names.values()].map((n) => n.name))];
    // Staleness counts from when the lookup was sent: a lookup answered by the old server just before a
    // switch must not count as fresh for longer than maxStaleness after it.
    const startedAt = this.now();
    this.lookups++;
    let server: ServerTypes;
    try {
      const result = await client.query({ text: RESOLVE_TYPES_SQL, values: [typnames] });
      server = readServerTypes(result.rows[0]?.snapshot, names);
    } catch (cause) {
      throw new HotUpgradeError(
        `Could not look up the OIDs of the types ${[...names.keys()].join(', ')} on a connection, so their values ` +
          'could not be parsed safely; the connection was not used. The query was:\n' +
          `  ${RESOLVE_TYPES_SQL}`,
        { cause, details: { types: [...names.keys()] } },
      );
    }
    state.apply(client, server, definitions);
    state.checkedAt = startedAt;
    state.generation = generation;
    this.observe(server);
  }

  private observe(server: ServerTypes): void {
    const previous = this.lastServer;
    this.lastServer = server;
    if (previous === null || !isServerChange(previous, server)) return;
    const event: ServerChangeEvent = Object.freeze({ previous, current: server, moved: Object.freeze(movedTypes(previous, server)) });
    // Emitted on the next tick: a listener that throws must not fail the connection being prepared.
    process.nextTick(() => this.emit('serverChange', event));
  }
}
