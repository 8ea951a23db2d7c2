/**
 * Table-level lock rules, after the "Explicit Locking" chapter of the PostgreSQL docs
 * and the lock notes of each command's reference page (ALTER TABLE, REINDEX…).
 */
import { LOCK_MODES } from './types.js';
import type { LockInfo, LockMode } from './types.js';

const RANK: ReadonlyMap<LockMode, number> = new Map(LOCK_MODES.map((mode, index) => [mode, index]));

/** The stronger of two lock modes (`null` is no lock). */
export function strongerLock(a: LockMode | null, b: LockMode | null): LockMode | null {
  if (a === null) return b;
  if (b === null) return a;
  return (RANK.get(a) ?? 0) >= (RANK.get(b) ?? 0) ? a : b;
}

const PG_LOCKS_NAMES: Readonly<Record<string, LockMode>> = {
  AccessShareLock: 'ACCESS SHARE',
  RowShareLock: 'ROW SHARE',
  RowExclusiveLock: 'ROW EXCLUSIVE',
  ShareUpdateExclusiveLock: 'SHARE UPDATE EXCLUSIVE',
  ShareLock: 'SHARE',
  ShareRowExclusiveLock: 'SHARE ROW EXCLUSIVE',
  ExclusiveLock: 'EXCLUSIVE',
  AccessExclusiveLock: 'ACCESS EXCLUSIVE',
};

/** The table lock mode of a `pg_locks.mode` name (`'AccessExclusiveLock'`); `undefined` for other lock kinds. */
export function lockModeOfPgLocks(name: string): LockMode | undefined {
  return Object.hasOwn(PG_LOCKS_NAMES, name) ? PG_LOCKS_NAMES[name] : undefined;
}

/** `LOCK TABLE`'s `mode` field (lockdefs.h numbering, 1 = ACCESS SHARE … 8 = ACCESS EXCLUSIVE). */
export function lockModeFromNumber(mode: number | undefined): LockMode {
  return LOCK_MODES[(mode ?? 8) - 1] ?? 'ACCESS EXCLUSIVE';
}

/** Collects the strongest lock per relation, in first-seen order. */
export class LockSet {
  private readonly modes = new Map<string, LockMode>();

  /** Records `mode` on `relation`, keeping the stronger of it and any earlier lock. */
  add(relation: string, mode: LockMode): void {
    const previous = this.modes.get(relation) ?? null;
    this.modes.set(relation, strongerLock(previous, mode) ?? mode);
  }

  /** Every lock, one per relation. */
  list(): LockInfo[] {
    return [...this.modes].map(([relation, mode]) => ({ mode, relation }));
  }

  /** The strongest lock and its relation (the first such relation on a tie). */
  strongest(): { lock: LockMode | null; relation: string | null } {
    let lock: LockMode | null = null;
    let relation: string | null = null;
    for (const [name, mode] of this.modes) {
      if (lock === null || strongerLock(lock, mode) !== lock) {
        lock = mode;
        relation = name;
      }
    }
    return { lock, relation };
  }
}

/** What one `ALTER TABLE` subcommand does, before looking at its arguments. */
export interface AlterTableRule {
  readonly label: string;
  readonly lock: LockMode;
  readonly stage: 'pre-deploy' | 'post-deploy' | null;
  readonly rewrites: boolean;
  readonly scans: boolean;
}

const AE: LockMode = 'ACCESS EXCLUSIVE';
const SUE: LockMode = 'SHARE UPDATE EXCLUSIVE';
const SRE: LockMode = 'SHARE ROW EXCLUSIVE';

function rule(label: string, lock: LockMode, stage: AlterTableRule['stage'], rewrites = false, scans = false): AlterTableRule {
  return Object.freeze({ label, lock, stage, rewrites, scans });
}

/**
 * `ALTER TABLE` subcommands whose effect does not depend on their arguments, by the
 * parser's `AlterTableType`. Subcommands that do (ADD COLUMN, ADD CONSTRAINT, SET/DROP
 * DEFAULT, TYPE, identity, partitions) are decided in classify.ts. Locks follow
 * PostgreSQL's `AlterTableGetLockLevel`; where the docs leave it open, the stronger mode.
 */
export const ALTER_TABLE_RULES: ReadonlyMap<string, AlterTableRule> = new Map([
  ['AT_DropNotNull', rule('DROP NOT NULL', AE, 'pre-deploy')],
  ['AT_SetNotNull', rule('SET NOT NULL', AE, 'post-deploy', false, true)],
  ['AT_DropColumn', rule('DROP COLUMN', AE, 'post-deploy')],
  ['AT_DropConstraint', rule('DROP CONSTRAINT', AE, 'pre-deploy')],
  ['AT_ValidateConstraint', rule('VALIDATE CONSTRAINT', SUE, null, false, true)],
  ['AT_AlterConstraint', rule('ALTER CONSTRAINT', AE, null)],
  ['AT_SetStatistics', rule('SET STATISTICS', SUE, null)],
  ['AT_SetOptions', rule('ALTER COLUMN SET (options)', SUE, null)],
  ['AT_ResetOptions', rule('ALTER COLUMN RESET (options)', SUE, null)],
  ['AT_SetStorage', rule('SET STORAGE', AE, null)],
  ['AT_SetCompression', rule('SET COMPRESSION', AE, null)],
  ['AT_DropExpression', rule('DROP EXPRESSION', AE, 'pre-deploy')],
  ['AT_SetExpression', rule('SET EXPRESSION', AE, 'post-deploy', true)],
  ['AT_SetIdentity', rule('SET IDENTITY OPTIONS', AE, null)],
  ['AT_DropIdentity', rule('DROP IDENTITY', AE, 'post-deploy')],
  ['AT_ChangeOwner', rule('OWNER TO', AE, null)],
  ['AT_ClusterOn', rule('CLUSTER ON', SUE, null)],
  ['AT_DropCluster', rule('SET WITHOUT CLUSTER', SUE, null)],
  ['AT_SetLogged', rule('SET LOGGED', AE, null, true)],
  ['AT_SetUnLogged', rule('SET UNLOGGED', AE, null, true)],
  ['AT_SetAccessMethod', rule('SET ACCESS METHOD', AE, null, true)],
  ['AT_SetTableSpace', rule('SET TABLESPACE', AE, null, true)],
  ['AT_SetRelOptions', rule('SET (storage parameters)', SUE, null)],
  ['AT_ResetRelOptions', rule('RESET (storage parameters)', SUE, null)],
  ['AT_ReplaceRelOptions', rule('SET (storage parameters)', SUE, null)],
  ['AT_EnableTrig', rule('ENABLE TRIGGER', SRE, null)],
  ['AT_EnableAlwaysTrig', rule('ENABLE ALWAYS TRIGGER', SRE, null)],
  ['AT_EnableReplicaTrig', rule('ENABLE REPLICA TRIGGER', SRE, null)],
  ['AT_DisableTrig', rule('DISABLE TRIGGER', SRE, null)],
  ['AT_EnableTrigAll', rule('ENABLE TRIGGER ALL', SRE, null)],
  ['AT_DisableTrigAll', rule('DISABLE TRIGGER ALL', SRE, null)],
  ['AT_EnableTrigUser', rule('ENABLE TRIGGER USER', SRE, null)],
  ['AT_DisableTrigUser', rule('DISABLE TRIGGER USER', SRE, null)],
  ['AT_EnableRule', rule('ENABLE RULE', AE, null)],
  ['AT_EnableAlwaysRule', rule('ENABLE ALWAYS RULE', AE, null)],
  ['AT_EnableReplicaRule', rule('ENABLE REPLICA RULE', AE, null)],
  ['AT_DisableRule', rule('DISABLE RULE', AE, null)],
  ['AT_AddInherit', rule('INHERIT', AE, null)],
  ['AT_DropInherit', rule('NO INHERIT', AE, null)],
  ['AT_AddOf', rule('OF', AE, null)],
  ['AT_DropOf', rule('NOT OF', AE, null)],
  ['AT_ReplicaIdentity', rule('REPLICA IDENTITY', AE, null)],
  ['AT_EnableRowSecurity', rule('ENABLE ROW LEVEL SECURITY', AE, null)],
  ['AT_DisableRowSecurity', rule('DISABLE ROW LEVEL SECURITY', AE, null)],
  ['AT_ForceRowSecurity', rule('FORCE ROW LEVEL SECURITY', AE, null)],
  ['AT_NoForceRowSecurity', rule('NO FORCE ROW LEVEL SECURITY', AE, null)],
  ['AT_GenericOptions', rule('OPTIONS', AE, null)],
  ['AT_AlterColumnGenericOptions', rule('ALTER COLUMN OPTIONS', AE, null)],
  ['AT_DetachPartitionFinalize', rule('DETACH PARTITION FINALIZE', SUE, null)],
]);
