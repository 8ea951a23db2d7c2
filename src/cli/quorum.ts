import type { Knex } from 'knex';
import type { MigrateResult, MigrationPlan } from '../migrator/staged-migrator.js';
import { createQuorumBackend } from '../quorum/create-backend.js';
import { formatQuorumEvent } from '../quorum/events.js';
import { resolveQuorumOptions } from '../quorum/resolve-options.js';
import { runWithQuorum } from '../quorum/run-with-quorum.js';
import type { Project } from './context.js';
import type { ParsedFlags } from './flags.js';
import type { Output } from './output.js';

/** What the deployer that did not apply learns: who applied, and their summary. */
export interface QuorumOutcomeForCli {
  readonly result: MigrateResult | null;
  readonly appliedBy: string | null;
  readonly summary: string | null;
}

/** Identifies the target database for the quorum namespace (the server's view: right behind pgbouncer too). */
async function databaseIdentity(knex: Knex): Promise<string> {
  const row = (
    await knex.raw<{ rows: Array<{ id: string }> }>(
      `select current_database() || '@' || coalesce(host(inet_server_addr()), 'local') || ':' || coalesce(inet_server_port()::text, '') as id`,
    )
  ).rows[0];
  return row?.id ?? 'unknown';
}

/**
 * Applies the plan, coordinated with the other deployers when `--quorum N` > 1: the N-th to
 * arrive applies it once, the others wait for its outcome. Flags are validated and the
 * backend is reached before anything is applied.
 */
export async function applyWithQuorum(
  project: Project,
  plan: MigrationPlan,
  values: ParsedFlags['values'],
  apply: () => Promise<MigrateResult>,
  output: Output,
): Promise<QuorumOutcomeForCli> {
  const options = resolveQuorumOptions(
    {
      quorum: values.quorum,
      quorumTimeout: values['quorum-timeout'],
      quorumBackend: values['quorum-backend'],
      quorumUrl: values['quorum-url'],
    },
    project.settings.quorum,
  );
  if (!options || options.size === 1 || plan.migrations.length === 0) {
    return { result: await apply(), appliedBy: null, summary: null };
  }
  const backend = await createQuorumBackend({ backend: options.backend, url: options.url }, { knex: project.knex });
  try {
    const outcome = await runWithQuorum(
      {
        backend,
        namespace: {
          plan: plan.migrations.map((m) => ({ name: m.name, direction: m.direction })),
          stage: plan.stage,
          database: await databaseIdentity(project.knex),
        },
        size: options.size,
        timeoutMs: options.timeoutMs,
        leaseMs: options.leaseMs,
        onProgress: (event) => output.err(formatQuorumEvent(event)),
        summarize: ([batch, log]) => `batch ${batch}: ${log.length} migration${log.length === 1 ? '' : 's'} (${log.join(', ')})`,
      },
      apply,
    );
    if (outcome.role === 'waiter') return { result: null, appliedBy: outcome.applier, summary: outcome.summary };
    return { result: outcome.value, appliedBy: null, summary: null };
  } finally {
    await backend.close();
  }
}
