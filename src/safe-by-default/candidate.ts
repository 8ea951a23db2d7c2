/**
 * Which statements a migration sends have a safe form, told from PostgreSQL's parse tree: one
 * statement per text, no bindings, and one of the forms of {@link SafeFormKind}. The analysis
 * (capture and shadow) and the runner count them the same way, so that "the second rewritable
 * statement of this migration" names the same statement in the plan and in the run.
 */
import { parseStatements, type PgNode } from '../analysis/parser.js';
import type { SafeFormKind } from './directive.js';

/** The finding each safe form answers: the refusal that makes the statement run in its safe form. */
export const SAFE_FORM_FINDING: Readonly<Record<SafeFormKind, string>> = Object.freeze({
  index: 'create-index-blocking',
  'foreign-key': 'foreign-key-validating',
  check: 'check-constraint-validating',
  'not-null': 'set-not-null-scan',
  unique: 'unique-constraint-blocking',
  'primary-key': 'unique-constraint-blocking',
});

/** A statement with a safe form: its kind, its text as parsed, and its tree. */
export interface Candidate {
  readonly kind: SafeFormKind;
  /** The statement's text (trimmed, without its `;`), as analysis reports it. */
  readonly sql: string;
  readonly node: PgNode;
}

/** The one subcommand of an `ALTER TABLE`, or `null` when it has several (they are not split: their atomicity is the author's). */
function soleCommand(body: PgNode): PgNode | null {
  const cmds = (body.cmds ?? []) as PgNode[];
  return cmds.length === 1 ? ((cmds[0].AlterTableCmd ?? null) as PgNode | null) : null;
}

/** The kind of safe form a statement node has, or `null`. */
export function candidateKind(node: PgNode): SafeFormKind | null {
  const index = node.IndexStmt as PgNode | undefined;
  // ONLY (a partitioned or inherited table's parent alone) is left as written: its safe form would reach the children.
  if (index) return !index.concurrent && index.relation && index.relation.inh === true ? 'index' : null;
  const alter = node.AlterTableStmt as PgNode | undefined;
  if (!alter || (alter.objtype !== undefined && alter.objtype !== 'OBJECT_TABLE') || alter.relation?.inh !== true) return null;
  const command = soleCommand(alter);
  if (!command) return null;
  if (command.subtype === 'AT_SetNotNull') return typeof command.name === 'string' ? 'not-null' : null;
  if (command.subtype !== 'AT_AddConstraint') return null;
  const constraint = command.def?.Constraint as PgNode | undefined;
  if (!constraint) return null;
  switch (constraint.contype) {
    case 'CONSTR_FOREIGN':
      return constraint.skip_validation ? null : 'foreign-key';
    case 'CONSTR_CHECK':
      return constraint.skip_validation ? null : 'check';
    case 'CONSTR_UNIQUE':
      return typeof constraint.indexname === 'string' ? null : 'unique';
    case 'CONSTR_PRIMARY':
      return typeof constraint.indexname === 'string' ? null : 'primary-key';
    default:
      return null;
  }
}

/**
 * The statement of a text sent to the server, when it has a safe form: exactly one statement,
 * without bindings (the parser must be loaded).
 */
export function candidateOf(text: string, bindings?: readonly unknown[]): Candidate | null {
  if (bindings !== undefined && bindings.length > 0) return null;
  const parsed = parseStatements(text);
  if (parsed.length !== 1 || !parsed[0].ok) return null;
  const kind = candidateKind(parsed[0].node);
  return kind ? { kind, sql: parsed[0].sql, node: parsed[0].node } : null;
}
