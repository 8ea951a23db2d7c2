/**
 * Whether a column default is volatile. Since PostgreSQL 11, `ADD COLUMN … DEFAULT x`
 * stores a non-volatile default in the catalog and rewrites nothing; a volatile one
 * (`clock_timestamp()`, `random()`, `gen_random_uuid()`, `nextval()`…) is evaluated per
 * row, which rewrites the table. Functions not known here count as volatile.
 */
import type { PgNode } from './parser.js';

// Functions known to be STABLE or IMMUTABLE that show up in column defaults.
const NON_VOLATILE_FUNCTIONS: ReadonlySet<string> = new Set([
  'now',
  'transaction_timestamp',
  'statement_timestamp',
  'current_setting',
  'current_database',
  'current_schema',
  'timezone',
  'date_trunc',
  'make_date',
  'make_time',
  'make_timestamp',
  'make_timestamptz',
  'make_interval',
  'to_timestamp',
  'to_date',
  'to_char',
  'to_json',
  'to_jsonb',
  'json_build_object',
  'jsonb_build_object',
  'json_build_array',
  'jsonb_build_array',
  'array_fill',
  'lower',
  'upper',
  'length',
  'concat',
  'concat_ws',
  'format',
  'md5',
  'btrim',
  'ltrim',
  'rtrim',
  'replace',
  'substr',
  'substring',
  'abs',
  'round',
  'floor',
  'ceil',
  'ceiling',
  'power',
  'int4',
  'int8',
  'numeric',
  'text',
]);

/** The name of a `FuncCall`, without its schema, lowercased as the parser leaves it. */
export function functionName(call: PgNode): string {
  const names = (call.funcname ?? []) as PgNode[];
  return String(names[names.length - 1]?.String?.sval ?? '');
}

/** The first volatile function called by `expression`, or `null` when it calls none. */
export function firstVolatileCall(expression: unknown): string | null {
  if (Array.isArray(expression)) {
    for (const item of expression) {
      const found = firstVolatileCall(item);
      if (found) return found;
    }
    return null;
  }
  if (expression === null || typeof expression !== 'object') return null;
  const node = expression as PgNode;
  if (node.FuncCall) {
    const name = functionName(node.FuncCall);
    if (!NON_VOLATILE_FUNCTIONS.has(name)) return name;
  }
  // A subquery in a default is rejected by PostgreSQL; treat it as unknown, hence volatile.
  if (node.SubLink) return 'subquery';
  for (const value of Object.values(node)) {
    const found = firstVolatileCall(value);
    if (found) return found;
  }
  return null;
}
