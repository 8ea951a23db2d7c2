/**
 * What may run in a shadow database. A shadow on the target's server shares the cluster: its
 * roles, tablespaces, settings, other databases, other sessions, the server's files and
 * programs. A statement whose effects reach beyond the shadow database is recorded and
 * classified from its text, never run there (ARCHITECTURE.md, facts).
 */
import { walkParseTree, type PgNode } from '../parser.js';

/** Whether a statement may run in the shadow, and why not. */
export type SandboxVerdict = { readonly run: true } | { readonly run: false; readonly reason: string };

/** Statement kinds whose effects are cluster-wide or leave the shadow database. */
const CLUSTER_WIDE: Readonly<Record<string, string>> = {
  CreateRoleStmt: 'CREATE ROLE changes the whole server',
  AlterRoleStmt: 'ALTER ROLE changes the whole server',
  AlterRoleSetStmt: 'ALTER ROLE … SET changes the whole server',
  DropRoleStmt: 'DROP ROLE changes the whole server',
  GrantRoleStmt: 'GRANT/REVOKE of a role changes the whole server',
  AlterSystemStmt: 'ALTER SYSTEM changes the server configuration',
  CreatedbStmt: 'CREATE DATABASE changes the whole server',
  DropdbStmt: 'DROP DATABASE changes the whole server',
  AlterDatabaseStmt: 'ALTER DATABASE can name another database',
  AlterDatabaseSetStmt: 'ALTER DATABASE … SET can name another database',
  AlterDatabaseRefreshCollStmt: 'ALTER DATABASE can name another database',
  CreateTableSpaceStmt: 'CREATE TABLESPACE changes the whole server',
  DropTableSpaceStmt: 'DROP TABLESPACE changes the whole server',
  AlterTableSpaceOptionsStmt: 'ALTER TABLESPACE changes the whole server',
  AlterTableMoveAllStmt: 'ALTER TABLE ALL IN TABLESPACE moves files of the server',
  CreateSubscriptionStmt: 'CREATE SUBSCRIPTION connects to another server',
  AlterSubscriptionStmt: 'ALTER SUBSCRIPTION connects to another server',
  DropSubscriptionStmt: 'DROP SUBSCRIPTION connects to another server',
  ImportForeignSchemaStmt: 'IMPORT FOREIGN SCHEMA connects to another server',
  LoadStmt: 'LOAD loads a library into the server process',
  CheckPointStmt: 'CHECKPOINT works on the whole server',
};

/**
 * Functions that reach other sessions, other databases, the server's files, its configuration
 * or replication. `dblink…`/`postgres_fdw` connections, `lo_import`/`lo_export` of server files…
 */
const BEYOND = /^(dblink.*|pg_terminate_backend|pg_cancel_backend|pg_signal_backend|pg_reload_conf|pg_rotate_logfile.*|pg_promote|pg_switch_wal|pg_create_.*replication_slot|pg_copy_.*replication_slot|pg_drop_replication_slot|pg_replication_origin_.*|pg_logical_emit_message|pg_read_file|pg_read_binary_file|pg_ls_.*|pg_stat_file|pg_file_.*|pg_stat_reset_shared|pg_stat_reset_slru|pg_stat_reset_replication_slot|pg_backup_start|pg_backup_stop|pg_start_backup|pg_stop_backup|pg_create_restore_point|pg_wal_replay_.*|pg_log_backend_memory_contexts|lo_import|lo_export|lo_from_bytea)$/;

/** The same names and statements, as they may appear in the text of a DO block or a function body. */
const BEYOND_TEXT =
  /\b(dblink\w*|pg_terminate_backend|pg_cancel_backend|pg_signal_backend|pg_reload_conf|pg_rotate_logfile\w*|pg_promote|pg_switch_wal|pg_\w*replication_slot|pg_replication_origin_\w+|pg_read_file|pg_read_binary_file|pg_ls_\w+|pg_stat_file|pg_file_\w+|pg_stat_reset_shared|lo_import|lo_export)\s*\(|\b(create|alter|drop)\s+(role|user|group|database|tablespace|subscription)\b|\balter\s+system\b|\bcopy\b[\s\S]*?\b(program|to\s+'|from\s+')/i;

function bodyText(body: PgNode, key: 'args' | 'options'): string {
  const items = (body[key] ?? []) as PgNode[];
  const parts: string[] = [];
  for (const item of items) {
    const def = item.DefElem as PgNode | undefined;
    if (def?.defname !== 'as') continue;
    const arg = def.arg as PgNode | undefined;
    if (arg?.String?.sval) parts.push(String(arg.String.sval));
    for (const entry of (arg?.List?.items ?? []) as PgNode[]) if (entry.String?.sval) parts.push(String(entry.String.sval));
  }
  return parts.join('\n');
}

/** Judges one parsed statement: may it run in the shadow database? */
export function sandboxVerdict(node: PgNode): SandboxVerdict {
  const kind = Object.keys(node)[0] ?? '';
  const body = (node[kind] ?? {}) as PgNode;
  const clusterWide = CLUSTER_WIDE[kind];
  if (clusterWide) return { run: false, reason: clusterWide };
  if (kind === 'CopyStmt' && (body.is_program || typeof body.filename === 'string')) {
    return { run: false, reason: body.is_program ? 'COPY … PROGRAM runs a program on the server' : 'COPY to or from a server file reaches the server’s files' };
  }
  if (kind === 'DoStmt' || kind === 'CreateFunctionStmt') {
    const text = bodyText(body, kind === 'DoStmt' ? 'args' : 'options');
    const match = BEYOND_TEXT.exec(text);
    if (match) return { run: false, reason: `its body uses ${match[0].trim()}, which reaches beyond the shadow database` };
  }
  let found: string | null = null;
  walkParseTree(body, (key, child) => {
    if (key !== 'FuncCall') return undefined;
    const name = String((((child as PgNode).funcname ?? []) as PgNode[]).at(-1)?.String?.sval ?? '');
    if (!BEYOND.test(name)) return undefined;
    found = `${name}() reaches beyond the shadow database`;
    return 'stop';
  });
  return found ? { run: false, reason: found } : { run: true };
}
