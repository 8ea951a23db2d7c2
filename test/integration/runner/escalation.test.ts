/**
 * The default lock policy (`zeroDowntime: {}`): a DDL queued behind a blocker waits at most
 * 100ms…500ms per attempt, so the writers queued behind the DDL stall that long at most,
 * and it still gets its lock once the blocker is gone; a blocker that never ends gets a
 * LockTimeoutError naming it, within `total` (1min).
 */
import test from 'ava';
import type { Knex } from 'knex';
import { parseSettings } from '../../../src/config.js';
import { LockTimeoutError } from '../../../src/errors.js';
import { wrapMigration } from '../../../src/runner/wrap-migration.js';
import { startWriter } from '../operations/support.js';
import { holdLock, knexOn, withTables } from './support.js';

const BLOCKER_MS = 3_000;
/** The longest lock_timeout of the default schedule. */
const LONGEST_WAIT_MS = 500;
/** Slack for a loaded machine. */
const SLACK_MS = 1_000;

for (const transaction of [false, true]) {
  test(`default settings, ${transaction ? 'inside knex\'s transaction' : 'outside a transaction'}: behind a ${BLOCKER_MS / 1000}s blocker the writers stall a few hundred ms at most, and the ALTER runs once the blocker is gone`, async (t) => {
    await withTables('zdesc', async (db) => {
      const knex = knexOn(db.url);
      try {
        const blocker = await holdLock(db.url, 'LOCK TABLE a IN ACCESS SHARE MODE', BLOCKER_MS);
        const writer = await startWriter(db.url, 'a');
        const migration = wrapMigration(
          { up: (k: Knex) => k.schema.alterTable('a', (table) => table.integer('escalated')) },
          { name: '20250101_escalate', direction: 'up', transaction, settings: parseSettings({}) },
        );
        const started = Date.now();
        let stall: { longestStallMs: number; writes: number };
        try {
          if (transaction) await knex.transaction(async (trx) => migration.up(trx));
          else await migration.up(knex);
        } finally {
          stall = await writer.stop();
        }
        const tookMs = Date.now() - started;
        const { longestStallMs, writes } = stall;
        t.log(`ALTER done after ${tookMs}ms; writer: ${writes} writes, longest stall ${Math.round(longestStallMs)}ms (blocker ${BLOCKER_MS}ms)`);
        t.true(blocker.released, 'the ALTER waited for the blocker');
        t.true(await db.knex.schema.hasColumn('a', 'escalated'));
        t.true(longestStallMs < LONGEST_WAIT_MS + SLACK_MS, `longest stall ${longestStallMs}ms`);
      } finally {
        await knex.destroy();
      }
    });
  });
}

test('default settings, a blocker that never ends: a LockTimeoutError naming it, within total (1min) and the last wait', async (t) => {
  await withTables('zdesc', async (db) => {
    const knex = knexOn(db.url);
    const blocker = await holdLock(db.url, 'LOCK TABLE a IN ACCESS SHARE MODE');
    try {
      const migration = wrapMigration(
        { up: (k: Knex) => k.raw('ALTER TABLE a ADD COLUMN never int') },
        { name: '20250101_never', direction: 'up', transaction: false, settings: parseSettings({}) },
      );
      const started = Date.now();
      const error = await t.throwsAsync(Promise.resolve(migration.up(knex)), { instanceOf: LockTimeoutError });
      const tookMs = Date.now() - started;
      t.log(`gave up after ${tookMs}ms and ${String(error.details.attempts)} attempts`);
      t.true(tookMs <= 60_000 + LONGEST_WAIT_MS + 3_000, `${tookMs}ms`);
      t.true(tookMs >= 50_000, `${tookMs}ms`);
      t.regex(error.message, /^Migration "20250101_never" \(up\) gave up waiting for a lock: the statement\n {2}ALTER TABLE a ADD COLUMN never int\ntimed out after lock_timeout 500ms, \d+ times over \d+s \(the statement alone was retried; the waits grew from 100ms to 500ms\)\./);
      t.regex(error.message, new RegExp(`\\n {2}pid ${blocker.pid} \\(idle in transaction for [\\d.]+s, user \\w+, long transaction, holding AccessShareLock\\): LOCK TABLE a IN ACCESS SHARE MODE`));
      t.false(await db.knex.schema.hasColumn('a', 'never'));
    } finally {
      await blocker.release();
      await knex.destroy();
    }
  });
});
