import type { Check } from '../types.js';
import { dropInPreDeploy } from './drop-in-pre-deploy.js';
import { missingLockTimeout } from './missing-lock-timeout.js';
import { validateSameTransaction } from './validate-same-transaction.js';

/** The migration-level unsafe-operation checks (the per-statement ones come from the analysis). */
export const unsafeChecks: readonly Check[] = Object.freeze([dropInPreDeploy, validateSameTransaction, missingLockTimeout]);

export { dropInPreDeploy, missingLockTimeout, validateSameTransaction };
