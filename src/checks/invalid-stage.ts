import { isStage } from '../stages.js';
import type { Check } from './types.js';

/** A migration file that declares a stage other than 'pre-deploy' or 'post-deploy'. */
export const invalidStage: Check = {
  id: 'invalid-stage',
  description: "config.stage must be 'pre-deploy' or 'post-deploy'",
  unsafe: false,
  run({ migrations }) {
    return migrations
      .filter((m) => m.declaredStage !== undefined && !isStage(m.declaredStage))
      .map((m) => ({
        code: this.id,
        severity: 'error' as const,
        migration: m.name,
        message: `${m.name} declares config.stage = ${JSON.stringify(m.declaredStage)}, which is not a stage.`,
        hint: "export const config = { stage: 'pre-deploy' };  // or 'post-deploy'",
      }));
  },
};
