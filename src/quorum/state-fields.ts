import type { QuorumDecision, QuorumOutcome, QuorumOutcomeKind, QuorumState } from './types.js';

const OUTCOMES: readonly QuorumOutcomeKind[] = ['applied', 'failed', 'applier-lost', 'timeout'];

/** The fields in which the key-value backends store a generation. @internal */
export interface StateFields {
  arrived?: string | number | null;
  decision?: string | null;
  decidedBy?: string | null;
  outcome?: string | null;
  outcomeBy?: string | null;
  message?: string | null;
}

/** Builds a {@link QuorumState} from stored fields, ignoring anything malformed. @internal */
export function stateFromFields(fields: StateFields, leaseAlive: boolean): QuorumState {
  const arrived = Number(fields.arrived ?? 0);
  let decision: QuorumDecision | null = null;
  if (fields.decision === 'applier' && fields.decidedBy) decision = { kind: 'applier', applier: fields.decidedBy };
  else if (fields.decision === 'timeout') decision = { kind: 'timeout', by: fields.decidedBy ?? '' };
  let outcome: QuorumOutcome | null = null;
  if (fields.outcome && OUTCOMES.includes(fields.outcome as QuorumOutcomeKind)) {
    outcome = {
      kind: fields.outcome as QuorumOutcomeKind,
      by: fields.outcomeBy ?? '',
      message: fields.message ? fields.message : null,
    };
  }
  return { arrived: Number.isFinite(arrived) ? arrived : 0, decision, leaseAlive, outcome };
}
