import type { Knex } from 'knex';
import { installRunner } from '../runner/step-executor.js';
import { executePlan, type OperationPlan } from './plan.js';

/** Records or executes `plan` through the runner, then hands it back (so callers and tests can see what ran). */
export async function runPlan(knex: Knex, plan: OperationPlan): Promise<OperationPlan> {
  installRunner();
  await executePlan(knex, plan);
  return plan;
}
