/** Column types read from the catalog's `format_type()` text, in the classifier's terms. */
import { columnTypeOf, type ColumnType } from '../column-types.js';
import { parseStatements } from '../parser.js';

const cache = new Map<string, ColumnType | null>();

/**
 * The type of a `format_type()` text (`character varying(255)`, `timestamp with time zone`,
 * `public.citext[]`) as {@link columnTypeOf} reads a type in a statement, so the two compare.
 * `null` when the text does not parse as a type (the parser must be loaded).
 */
export function columnTypeFromText(text: string): ColumnType | null {
  const cached = cache.get(text);
  if (cached !== undefined) return cached;
  let type: ColumnType | null = null;
  const [parsed] = parseStatements(`SELECT NULL::${text}`);
  if (parsed?.ok) {
    const target = (parsed.node.SelectStmt?.targetList as Array<Record<string, any>> | undefined)?.[0];
    type = columnTypeOf(target?.ResTarget?.val?.TypeCast?.typeName);
  }
  cache.set(text, type);
  return type;
}
