/**
 * Which statements capture may send to the target database while analysing: only a single
 * plain read whose every function is known to be free of side effects. A `READ ONLY`
 * transaction is not enough on its own: it does not stop a string with its own `COMMIT`, nor
 * `dblink_exec`, `pg_terminate_backend` or `pg_advisory_lock` (see ARCHITECTURE.md).
 */
import { walkParseTree, type PgNode } from '../parser.js';

/** Why a statement is not sent to the target, or `null` when it may be (as a read). */
export type ReadVerdict = { readonly read: true; readonly functions: readonly QualifiedFunction[] } | { readonly read: false; readonly reason: string };

/** A function a statement calls, as written: `schema` is `null` when unqualified. */
export interface QualifiedFunction {
  readonly schema: string | null;
  readonly name: string;
}

/** Statement kinds that only read. */
const READ_KINDS = new Set(['SelectStmt', 'VariableShowStmt']);

/**
 * Functions that are never sent, whatever `pg_proc` says of them: they reach other sessions,
 * other databases, the server's files, or leave state on the connection.
 */
const NEVER = /^(dblink.*|pg_advisory.*|pg_try_advisory.*|pg_terminate_backend|pg_cancel_backend|pg_signal_backend|pg_reload_conf|pg_rotate_logfile|pg_promote|pg_switch_wal|pg_create_.*|pg_drop_replication_slot|pg_replication_.*|pg_logical_.*|pg_read_file|pg_read_binary_file|pg_ls_.*|pg_stat_file|pg_stat_reset.*|pg_notify|pg_sleep.*|set_config|lo_.*|nextval|setval|currval|lastval|txid_current|pg_current_xact_id|pg_export_snapshot|pg_import_system_collations|pg_backup_.*|pg_create_restore_point|pg_file_.*|pg_wal_replay_.*)$/;

/**
 * Functions every catalog read uses, known side-effect free, so that the usual reads
 * (knex's `hasTable`, a migration looking at `pg_indexes`) need no `pg_proc` look-up.
 */
export const KNOWN_PURE = new Set([
  'current_schema', 'current_schemas', 'current_setting', 'current_database', 'current_user', 'session_user', 'version',
  'format_type', 'pg_get_expr', 'pg_get_indexdef', 'pg_get_constraintdef', 'pg_get_viewdef', 'pg_get_functiondef',
  'pg_get_serial_sequence', 'pg_table_is_visible', 'pg_type_is_visible', 'pg_function_is_visible', 'to_regclass', 'to_regtype',
  'to_regproc', 'to_regnamespace', 'has_table_privilege', 'has_schema_privilege', 'has_column_privilege', 'quote_ident',
  'quote_literal', 'format', 'obj_description', 'col_description', 'pg_relation_size', 'pg_total_relation_size',
  'pg_table_size', 'pg_indexes_size', 'array_agg', 'string_agg', 'json_agg', 'jsonb_agg', 'count', 'sum', 'min', 'max',
  'avg', 'bool_and', 'bool_or', 'coalesce', 'lower', 'upper', 'length', 'substring', 'replace', 'trim', 'concat',
  'unnest', 'array_length', 'now', 'to_char', 'to_jsonb', 'to_json', 'row_to_json', 'json_build_object',
  'jsonb_build_object', 'exists', 'generate_series', 'abs', 'round', 'floor', 'ceil', 'greatest', 'least',
]);

/** Judges one parsed statement: a plain read (with the functions it calls), or why it is not sent. */
export function judgeRead(node: PgNode): ReadVerdict {
  const kind = Object.keys(node)[0] ?? '';
  if (!READ_KINDS.has(kind)) return { read: false, reason: `${kind} is not a read` };
  const body = node[kind] as PgNode;
  if (kind === 'SelectStmt' && body.intoClause) return { read: false, reason: 'SELECT … INTO creates a table' };
  const functions: QualifiedFunction[] = [];
  let refusal: string | null = null;
  walkParseTree(body, (key, child) => {
    if (key === 'InsertStmt' || key === 'UpdateStmt' || key === 'DeleteStmt' || key === 'MergeStmt') {
      refusal = 'a data-modifying WITH writes';
      return 'stop';
    }
    if (key === 'lockingClause' && Array.isArray(child) && child.length > 0) {
      refusal = 'FOR UPDATE/SHARE locks rows';
      return 'stop';
    }
    if (key === 'FuncCall') {
      const parts = (((child as PgNode).funcname ?? []) as PgNode[]).map((p) => String(p.String?.sval ?? ''));
      const name = parts.at(-1) ?? '';
      const schema = parts.length > 1 ? (parts.at(-2) ?? null) : null;
      if (NEVER.test(name)) {
        refusal = `${name}() has effects beyond this read`;
        return 'stop';
      }
      if (schema !== null && schema !== 'pg_catalog') {
        refusal = `${schema}.${name}() is not a built-in function`;
        return 'stop';
      }
      functions.push({ schema, name });
    }
    return undefined;
  });
  if (refusal) return { read: false, reason: refusal };
  return { read: true, functions };
}
