import type { Check } from '../types.js';
import { concurrentIndexCorruption } from './concurrent-index-corruption.js';
import { dropInPreDeploy } from './drop-in-pre-deploy.js';
import { lockHeldAcrossStatements } from './lock-held-across-statements.js';
import { missingLockTimeout } from './missing-lock-timeout.js';
import { validateSameTransaction } from './validate-same-transaction.js';

/** The migration-level unsafe-operation checks (the per-statement ones come from the analysis). */
export const unsafeChecks: readonly Check[] = Object.freeze([
  dropInPreDeploy,
  validateSameTransaction,
  missingLockTimeout,
  lockHeldAcrossStatements,
  concurrentIndexCorruption,
]);

export { concurrentIndexCorruption, dropInPreDeploy, lockHeldAcrossStatements, missingLockTimeout, validateSameTransaction };
