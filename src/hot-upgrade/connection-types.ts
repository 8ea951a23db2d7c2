import { parsePgArray } from './pg-array.js';
import type { ServerTypes } from './server-types.js';
import type { TypeDefinition, TypeParser } from './type-definition.js';

/** The part of a node-postgres `Client` that the registry uses; its per-client parsers never touch `pg.types`. */
export interface TypeParsingClient {
  query(config: { text: string; values: unknown[] }): Promise<{ rows: Array<Record<string, unknown>> }>;
  setTypeParser(oid: number, format: 'text', parser: TypeParser): void;
  getTypeParser(oid: number, format: 'text'): TypeParser;
}

/**
 * The type parsers installed on one connection, and when they were last checked against its server.
 * @internal
 */
export class ConnectionTypes {
  /** The server the parsers were resolved on; `null` before the first lookup. */
  server: ServerTypes | null = null;
  /** Clock reading of the last lookup. */
  checkedAt = Number.NEGATIVE_INFINITY;
  /** Registry generation the lookup was made for: registering a type makes every connection look again. */
  generation = -1;
  /** Parser that each OID had before the registry took it over, restored when the OID no longer belongs to a registered type. */
  private readonly originals = new Map<number, TypeParser>();

  /** Points the client's parsers at the OIDs of `server` and restores the parsers of OIDs no longer registered. */
  apply(client: TypeParsingClient, server: ServerTypes, definitions: readonly TypeDefinition[]): void {
    const wanted = new Map<number, TypeParser>();
    for (const definition of definitions) {
      const resolved = server.types[definition.name];
      if (!resolved || resolved.oid === null) continue;
      wanted.set(resolved.oid, definition.parse);
      if (definition.array !== false && resolved.arrayOid !== null) {
        const parseElement = definition.parse;
        wanted.set(resolved.arrayOid, (text) => parsePgArray(text, parseElement));
      }
    }
    for (const [oid, original] of this.originals) {
      if (!wanted.has(oid)) {
        client.setTypeParser(oid, 'text', original);
        this.originals.delete(oid);
      }
    }
    for (const [oid, parser] of wanted) {
      if (!this.originals.has(oid)) this.originals.set(oid, client.getTypeParser(oid, 'text'));
      client.setTypeParser(oid, 'text', parser);
    }
    this.server = server;
  }
}
