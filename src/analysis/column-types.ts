/**
 * Column types as the parser spells them, and which type changes PostgreSQL makes
 * without a table rewrite (binary-coercible changes, or a relaxed type modifier).
 */
import type { PgNode } from './parser.js';

/** A column type reduced to what decides whether changing it rewrites the table. */
export interface ColumnType {
  /** The parser's name, schema-qualified unless it is a built-in (`int8`, `varchar`, `public.citext`). */
  readonly name: string;
  /** Type modifiers, e.g. `[255]` for `varchar(255)`, `[10, 2]` for `numeric(10,2)`. */
  readonly modifiers: readonly number[];
  readonly array: boolean;
}

// How `format_type` spells the built-ins whose internal names differ from SQL's.
const DISPLAY_NAMES: Readonly<Record<string, string>> = {
  int2: 'smallint',
  int4: 'integer',
  int8: 'bigint',
  float4: 'real',
  float8: 'double precision',
  bool: 'boolean',
  bpchar: 'char',
  varchar: 'varchar',
  timestamptz: 'timestamptz',
  timetz: 'timetz',
};

const SERIAL_TYPES: ReadonlyMap<string, string> = new Map([
  ['smallserial', 'smallint'],
  ['serial2', 'smallint'],
  ['serial', 'integer'],
  ['serial4', 'integer'],
  ['bigserial', 'bigint'],
  ['serial8', 'bigint'],
]);

/** Reads a `TypeName` node. */
export function columnTypeOf(typeName: PgNode | undefined): ColumnType | null {
  if (!typeName) return null;
  const parts = ((typeName.names ?? []) as PgNode[]).map((part) => String(part.String?.sval ?? ''));
  if (parts.length === 0) return null;
  const name = parts[0] === 'pg_catalog' && parts.length === 2 ? parts[1] : parts.join('.');
  const modifiers: number[] = [];
  for (const modifier of (typeName.typmods ?? []) as PgNode[]) {
    const value = modifier.A_Const?.ival?.ival;
    // An A_Const of 0 has no `ival` field at all (the JSON output omits zero values).
    if (modifier.A_Const) modifiers.push(typeof value === 'number' ? value : 0);
  }
  return { name, modifiers, array: Array.isArray(typeName.arrayBounds) && typeName.arrayBounds.length > 0 };
}

/** True for `serial`, `bigserial`…: shorthand for an integer column with a `nextval()` default. */
export function isSerial(type: ColumnType | null): boolean {
  return type !== null && !type.array && SERIAL_TYPES.has(type.name);
}

/** The integer type behind a `serial` shorthand (`bigserial` → `bigint`), else `null`. */
export function serialBaseType(type: ColumnType | null): string | null {
  return type && !type.array ? (SERIAL_TYPES.get(type.name) ?? null) : null;
}

/** The type as SQL, e.g. `varchar(255)`, `bigint`, `numeric(10, 2)[]`. */
export function formatColumnType(type: ColumnType): string {
  const base = DISPLAY_NAMES[type.name] ?? type.name;
  // interval's modifier is a field bitmask, not something a reader would type.
  const modifiers = type.modifiers.length > 0 && type.name !== 'interval' ? `(${type.modifiers.join(', ')})` : '';
  return `${base}${modifiers}${type.array ? '[]' : ''}`;
}

/**
 * True when changing a column from `from` to `to` needs no table rewrite: the same type,
 * or a binary-coercible change whose new modifier accepts every old value (PostgreSQL
 * then only updates the catalog, and keeps the indexes).
 */
export function isBinaryCoercible(from: ColumnType, to: ColumnType): boolean {
  if (from.array !== to.array) return false;
  if (from.name === to.name) {
    if (sameModifiers(from.modifiers, to.modifiers)) return true;
    switch (from.name) {
      case 'varchar':
      case 'varbit':
        // Unbounded, or a bound at least as wide: no value can fail, nothing is rewritten.
        return to.modifiers.length === 0 || (from.modifiers.length > 0 && to.modifiers[0] >= from.modifiers[0]);
      case 'numeric':
        return to.modifiers.length === 0 || (from.modifiers.length > 0 && numericWidens(from.modifiers, to.modifiers));
      default:
        return false;
    }
  }
  if (from.name === 'varchar' && to.name === 'text') return true;
  if (from.name === 'text' && to.name === 'varchar') return to.modifiers.length === 0;
  if (from.name === 'cidr' && to.name === 'inet') return true;
  return false;
}

function numericWidens(from: readonly number[], to: readonly number[]): boolean {
  const [fromPrecision = 0, fromScale = 0] = from;
  const [toPrecision = 0, toScale = 0] = to;
  return toScale === fromScale && toPrecision >= fromPrecision;
}

function sameModifiers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}
