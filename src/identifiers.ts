import { createHash } from 'node:crypto';
import { IdentifierError } from './errors.js';

/** PostgreSQL's longest identifier, in bytes (NAMEDATALEN - 1). */
export const MAX_IDENTIFIER_BYTES = 63;

/** Rejects what cannot be an identifier: not a string, empty, or containing a NUL byte. */
export function assertIdentifier(value: unknown, what = 'identifier'): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new IdentifierError(`The ${what} must be a non-empty string; got ${JSON.stringify(value)}.`, {
      details: { what, value },
    });
  }
  if (value.includes('\0')) {
    throw new IdentifierError(`The ${what} ${JSON.stringify(value)} contains a NUL byte.`, { details: { what, value } });
  }
  if (Buffer.byteLength(value, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new IdentifierError(
      `The ${what} ${JSON.stringify(value)} is longer than PostgreSQL's ${MAX_IDENTIFIER_BYTES} bytes: PostgreSQL would silently truncate it, and the catalog lookups that make operations idempotent would then miss it. Use a shorter name.`,
      { details: { what, value } },
    );
  }
}

/** Quotes one identifier: `orders` → `"orders"`, `we"ird` → `"we""ird"`. */
export function quoteIdentifier(name: string, what = 'identifier'): string {
  assertIdentifier(name, what);
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes a schema-qualified name: `("app", "orders")` → `"app"."orders"`. */
export function quoteQualified(schema: string, name: string): string {
  return `${quoteIdentifier(schema, 'schema')}.${quoteIdentifier(name)}`;
}

/** Quotes a list of column names, comma-separated. */
export function quoteColumns(columns: readonly string[]): string {
  if (columns.length === 0) throw new IdentifierError('At least one column is needed.');
  return columns.map((c) => quoteIdentifier(c, 'column')).join(', ');
}

/** Cuts a string to at most `maxBytes` UTF-8 bytes without splitting a character. */
function truncateBytes(value: string, maxBytes: number): string {
  let out = '';
  let bytes = 0;
  for (const char of value) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}

/**
 * Builds a generated name (index, constraint, trigger) from parts, joined by `_`, kept within
 * 63 bytes: a longer name is cut and ends with `_` and 8 hex digits of a SHA-1 of the full name,
 * so two long names that share a prefix stay distinct and the same input always gives the same name.
 */
export function generatedName(parts: readonly string[]): string {
  const full = parts.join('_');
  if (Buffer.byteLength(full, 'utf8') <= MAX_IDENTIFIER_BYTES) return full;
  const hash = createHash('sha1').update(full).digest('hex').slice(0, 8);
  return `${truncateBytes(full, MAX_IDENTIFIER_BYTES - hash.length - 1)}_${hash}`;
}
