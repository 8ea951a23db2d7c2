import { HotUpgradeError } from '../errors.js';
import type { TypeName } from './type-definition.js';

/**
 * The one query that tells which server a connection talks to: its version and the OIDs of the
 * registered types. Everything comes back as one text column so that no user type parser
 * (for `json`, `int4`…) can change how it reads.
 * `$1` is the distinct `typname`s of the registered types.
 */
export const RESOLVE_TYPES_SQL =
  "SELECT pg_catalog.json_build_object('versionNum', pg_catalog.current_setting('server_version_num'), " +
  "'version', pg_catalog.current_setting('server_version'), " +
  "'types', COALESCE(pg_catalog.json_agg(pg_catalog.json_build_array(t.oid, n.nspname, t.typname, t.typarray, " +
  "pg_catalog.pg_type_is_visible(t.oid))), '[]'::json))::text AS snapshot " +
  'FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace ' +
  'WHERE t.typname = ANY($1::text[])';

/** Where a registered type lives on one server; `null` OIDs when the type does not exist there. */
export interface ResolvedType {
  readonly oid: number | null;
  /** OID of the type's array type (`pg_type.typarray`), `null` when there is none. */
  readonly arrayOid: number | null;
}

/** What the registry knows about the server behind a connection. */
export interface ServerTypes {
  /** `server_version_num`, e.g. `170010`. */
  readonly versionNum: number;
  /** `server_version`, e.g. `'17.10'`. */
  readonly version: string;
  /** Registered type name → where it is on this server. */
  readonly types: Readonly<Record<string, ResolvedType>>;
}

/** A registered type whose OID (or array type's OID) differs between two servers. */
export interface MovedType {
  readonly name: string;
  readonly from: ResolvedType;
  readonly to: ResolvedType;
}

type CatalogRow = [oid: number, schema: string, typname: string, typarray: number, visible: boolean];

/** Reads the result of {@link RESOLVE_TYPES_SQL} into the server's types, by registered name. */
export function readServerTypes(snapshotText: unknown, names: ReadonlyMap<string, TypeName>): ServerTypes {
  let parsed: { versionNum: string; version: string; types: CatalogRow[] };
  try {
    parsed = JSON.parse(String(snapshotText));
  } catch (cause) {
    throw new HotUpgradeError('The server answered the type lookup with something that is not JSON.', { cause });
  }
  const types: Record<string, ResolvedType> = {};
  for (const [registered, { schema, name }] of names) {
    const candidates = parsed.types.filter(([, nspname, typname]) => typname === name && (schema === null || nspname === schema));
    // Unqualified: the type that the search_path shows wins, as it would in SQL; then public, then the oldest.
    candidates.sort(
      (a, b) => Number(b[4]) - Number(a[4]) || Number(b[1] === 'public') - Number(a[1] === 'public') || Number(a[0]) - Number(b[0]),
    );
    const found = candidates[0];
    // json_build_array writes OIDs as strings.
    const arrayOid = found ? Number(found[3]) : 0;
    types[registered] = found ? { oid: Number(found[0]), arrayOid: arrayOid === 0 ? null : arrayOid } : { oid: null, arrayOid: null };
  }
  return Object.freeze({ versionNum: Number(parsed.versionNum), version: parsed.version, types: Object.freeze(types) });
}

/** The registered types whose OIDs differ between two servers (only names that both know). */
export function movedTypes(from: ServerTypes, to: ServerTypes): MovedType[] {
  const moved: MovedType[] = [];
  for (const [name, before] of Object.entries(from.types)) {
    const after = to.types[name];
    if (after && (after.oid !== before.oid || after.arrayOid !== before.arrayOid)) moved.push({ name, from: before, to: after });
  }
  return moved;
}

/**
 * True when `to` looks like another server than `from`: another version, or a type that existed
 * at some OID now elsewhere or gone. A type that merely appeared (`CREATE EXTENSION` on the same
 * server) is not a server change, though the connection's parsers pick it up all the same.
 */
export function isServerChange(from: ServerTypes, to: ServerTypes): boolean {
  return from.versionNum !== to.versionNum || movedTypes(from, to).some((moved) => moved.from.oid !== null);
}
