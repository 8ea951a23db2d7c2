import type { Knex } from 'knex';
import pg from 'pg';
import { withCaptureRecorder, type OperationPlan } from '../../../src/operations/plan.js';

/** Runs `fn` under a capture recorder and returns the plans it built (nothing is executed). */
export async function capturePlans(fn: () => Promise<unknown>): Promise<OperationPlan[]> {
  const plans: OperationPlan[] = [];
  await withCaptureRecorder({ recordPlan: (plan) => { plans.push(plan); } }, async () => {
    await fn();
  });
  return plans;
}

/** The SQL of a plan's steps. */
export function sqlOf(plan: OperationPlan): string[] {
  return plan.steps.map((s) => s.sql);
}

/** Creates `name(id bigserial primary key, n int, note text)` with `rows` rows in one INSERT … SELECT. */
export async function seedTable(knex: Knex, name: string, rows: number): Promise<void> {
  await knex.raw(`CREATE TABLE ?? (id bigserial PRIMARY KEY, n int, note text)`, [name]);
  await knex.raw(`INSERT INTO ?? (n, note) SELECT g, 'row ' || g FROM generate_series(1, ?) AS g`, [name, rows]);
  await knex.raw('ANALYZE ??', [name]);
}

/** A writer on its own connection: INSERT and UPDATE in a loop, recording the longest statement. */
export interface Writer {
  stop(): Promise<{ longestStallMs: number; writes: number }>;
}

/** Starts a concurrent writer on `table` (columns id, n). */
export async function startWriter(url: string, table: string): Promise<Writer> {
  const client = new pg.Client({ connectionString: url, application_name: 'test writer' });
  client.on('error', () => undefined); // the database may be dropped under a writer of a failed test
  await client.connect();
  let running = true;
  let longest = 0;
  let writes = 0;
  let failure: Error | undefined;
  const quoted = `"${table.replace(/"/g, '""')}"`;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      await client.query(`INSERT INTO ${quoted} (n, note) VALUES ($1, $2)`, [writes, `writer ${writes}`]);
      await client.query(`UPDATE ${quoted} SET n = n + 1 WHERE id = $1`, [1 + (writes % 1000)]);
      longest = Math.max(longest, performance.now() - started);
      writes++;
    }
  })();
  return {
    async stop() {
      running = false;
      await loop.catch((error: unknown) => {
        failure = error instanceof Error ? error : new Error(String(error));
      });
      await client.end().catch(() => undefined);
      if (failure) throw failure;
      return { longestStallMs: longest, writes };
    },
  };
}
