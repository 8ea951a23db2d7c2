import { ConfigError } from '../errors.js';
import { parseHstore } from './hstore.js';

/** Turns the text format of a value into a JavaScript value. */
export type TypeParser = (text: string) => unknown;

/**
 * A type that the hot-upgrade registry keeps parsed, found on each server by name.
 *
 * @example pgvector's `vector` (the text format is `[1,2,3]`, which is JSON):
 * ```ts
 * const vectorType: TypeDefinition = { name: 'vector', parse: (text) => JSON.parse(text) as number[] };
 * knex(withHotUpgrade(config, { types: ['hstore', vectorType] }));
 * ```
 */
export interface TypeDefinition {
  /** The type's name in `pg_type`, optionally schema-qualified: `'hstore'`, `'public.vector'`. */
  readonly name: string;
  /** Parses one value in text format; never receives NULL (that is `null` already). */
  readonly parse: TypeParser;
  /** Also parse the array type (`_hstore`, found through `pg_type.typarray`) into arrays. @default true */
  readonly array?: boolean;
}

/** hstore, parsed into a plain object whose values are strings or `null` (see {@link parseHstore}). */
export const hstoreType: TypeDefinition = Object.freeze({ name: 'hstore', parse: parseHstore, array: true });

/** citext, kept a string; its array type `_citext` becomes a `string[]` instead of the raw `{a,b}` text. */
export const citextType: TypeDefinition = Object.freeze({ name: 'citext', parse: (text: string) => text, array: true });

/** The built-in types, by the name that `types: ['hstore']` accepts. */
export const BUILTIN_TYPES: Readonly<Record<string, TypeDefinition>> = Object.freeze({
  hstore: hstoreType,
  citext: citextType,
});

/** A registered type's name split into its schema (or `null` when unqualified) and its `typname`. */
export interface TypeName {
  readonly schema: string | null;
  readonly name: string;
}

/** Splits `'schema.name'`; a name without a dot is found through the search_path. */
export function splitTypeName(qualified: string): TypeName {
  const dot = qualified.indexOf('.');
  const schema = dot < 0 ? null : qualified.slice(0, dot);
  const name = dot < 0 ? qualified : qualified.slice(dot + 1);
  if (name === '' || schema === '' || name.includes('.') || qualified.includes('"')) {
    throw new ConfigError(
      `${JSON.stringify(qualified)} is not a type name the hot-upgrade registry can look up; ` +
        "use the name as it appears in pg_type.typname, optionally prefixed by its schema: 'hstore' or 'public.hstore'.",
      { details: { option: 'types', value: qualified } },
    );
  }
  return { schema, name };
}

/** Validates a type definition given by a user (or a built-in's name) into a frozen definition. */
export function toTypeDefinition(entry: unknown): TypeDefinition {
  if (typeof entry === 'string') {
    const builtin = BUILTIN_TYPES[entry];
    if (builtin) return builtin;
    throw new ConfigError(
      `${JSON.stringify(entry)} is not a built-in type of the hot-upgrade registry (those are ${Object.keys(BUILTIN_TYPES).join(', ')}); ` +
        `register it with its parser instead: { name: ${JSON.stringify(entry)}, parse: (text) => … }.`,
      { details: { option: 'types', value: entry } },
    );
  }
  const candidate = entry as Partial<TypeDefinition> | null;
  if (candidate === null || typeof candidate !== 'object' || typeof candidate.name !== 'string' || typeof candidate.parse !== 'function') {
    throw new ConfigError(
      "Each hot-upgrade type must be a built-in's name or { name: string, parse: (text: string) => unknown, array?: boolean }.",
      { details: { option: 'types' } },
    );
  }
  splitTypeName(candidate.name);
  if (candidate.array !== undefined && typeof candidate.array !== 'boolean') {
    throw new ConfigError(`The array option of the hot-upgrade type ${JSON.stringify(candidate.name)} must be true or false.`, {
      details: { option: 'types', value: candidate.name },
    });
  }
  return Object.freeze({ name: candidate.name, parse: candidate.parse, array: candidate.array ?? true });
}
