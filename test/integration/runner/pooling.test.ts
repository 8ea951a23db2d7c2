/**
 * Timeouts through pgbouncer. In transaction pooling a session setting lands on a server
 * connection that other clients then use, so knex-zd sets its timeouts with SET LOCAL inside
 * a transaction of its own, and refuses the statements that cannot run in one; other clients
 * keep reading the server's values the whole time.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import type { Knex } from 'knex';
import { LockTimeoutError, TransactionPoolingError } from '../../../src/errors.js';
import { pinningOf } from '../../../src/runner/pooling.js';
import { sendInternal, type QueryObject } from '../../../src/runner/internal-query.js';
import { startPgBouncer, type PgBouncer } from '../../helpers/pgbouncer.js';
import type { TestDatabase } from '../../helpers/db.js';
import { createProject, knexfileSource, ROOT } from '../../helpers/project.js';
import { holdLock, indexesOf, knexOn, runOutside, watchSettings, withTables } from './support.js';

async function withBouncer<T>(db: TestDatabase, poolMode: 'session' | 'transaction', fn: (bouncer: PgBouncer) => Promise<T>, poolSize = 4): Promise<T> {
  const bouncer = await startPgBouncer({ target: { host: '127.0.0.1', port: 5432, database: db.name }, poolMode, poolSize });
  try {
    return await fn(bouncer);
  } finally {
    await bouncer.stop();
  }
}

const READ = "SELECT current_setting('lock_timeout') AS l, current_setting('statement_timeout') AS s, current_setting('application_name') AS a";

/** The pinning verdict of one pooled connection of `knex`. */
async function pinning(knex: Knex) {
  const client = knex.client as Knex.Client & { _query(c: unknown, o: QueryObject): Promise<QueryObject> };
  const connection = await client.acquireConnection();
  try {
    return await pinningOf(client, (c, o) => client._query(c, o), connection);
  } finally {
    await client.releaseConnection(connection);
  }
}

test('the pooling check: a direct connection and session pooling keep one session, transaction pooling does not, and the check sets nothing', async (t) => {
  await withTables('zdpool', async (db) => {
    const direct = knexOn(db.url);
    try {
      const verdict = await pinning(direct);
      t.true(verdict.pinned);
      t.regex(verdict.evidence, /^a direct connection \(server process \d+\)$/);
    } finally {
      await direct.destroy();
    }
    await withBouncer(db, 'session', async (bouncer) => {
      const knex = knexOn(bouncer.url);
      try {
        const verdict = await pinning(knex);
        t.true(verdict.pinned, verdict.evidence);
        t.regex(verdict.evidence, /^a session-pooled connection \(server process \d+ kept it across 3 checks\)$/);
      } finally {
        await knex.destroy();
      }
    });
    await withBouncer(db, 'transaction', async (bouncer) => {
      const watchers = await watchSettings(bouncer.url, 2);
      // A verdict is remembered per connection: each round checks a new one.
      for (let i = 0; i < 5; i++) {
        const knex = knexOn(bouncer.url);
        try {
          const verdict = await pinning(knex);
          t.false(verdict.pinned, verdict.evidence);
          t.regex(verdict.evidence, /^(server process \d+ served this connection, then another client connection while this one was idle|this connection was served by server process \d+, then by \d+)$/);
        } finally {
          await knex.destroy();
        }
      }
      const report = await watchers.stop();
      t.is(report.leaked, 0);
    });
  });
});

test('transaction pooling: a CREATE INDEX CONCURRENTLY is refused before it is sent, with the way to give migrations a direct connection', async (t) => {
  await withTables('zdpool', async (db) => {
    await withBouncer(db, 'transaction', async (bouncer) => {
      const knex = knexOn(bouncer.url);
      try {
        const error = await t.throwsAsync(
          runOutside(knex, '20250101_index', {}, (k) => k.raw('CREATE INDEX CONCURRENTLY a_n_index ON a (n)')),
          { instanceOf: TransactionPoolingError },
        );
        t.is(error.code, 'ZD_TRANSACTION_POOLING');
        t.is(
          error.message.replace(/\(server process \d+.*?\):\n/, '(EVIDENCE):\n'),
          [
            'Refusing to send a statement through a transaction-pooling connection (EVIDENCE):',
            '  CREATE INDEX CONCURRENTLY a_n_index ON a (n)',
            'PostgreSQL refuses CREATE INDEX CONCURRENTLY inside a transaction block, so its lock_timeout and statement_timeout could only be set for the whole session; through transaction pooling (pgbouncer pool_mode = transaction, or a pooler like it) a session setting stays on a server connection that other clients then use, and the statement may run on another server connection without it. Nothing was sent.',
            'Give migrations a direct connection to PostgreSQL, or one through a session-pooled port, e.g. with a knexfile environment of their own:',
            '  migrate: { ...production, connection: process.env.DIRECT_DATABASE_URL },',
            'then run knex-zd migrate:latest --env migrate.',
          ].join('\n'),
        );
        t.deepEqual(await indexesOf(db.knex, 'a'), { a_pkey: true });
        // Nothing reached the server: no session ever saw the statement.
        const seen = await db.knex.raw<{ rows: unknown[] }>("SELECT 1 FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY a_n_index%'");
        t.is(seen.rows.length, 0);
      } finally {
        await knex.destroy();
      }
    });
    for (const mode of ['session', 'direct'] as const) {
      const run = async (url: string) => {
        const knex = knexOn(url);
        try {
          await runOutside(knex, '20250101_index', {}, (k) => k.raw(`CREATE INDEX CONCURRENTLY a_${mode}_index ON a (n)`));
        } finally {
          await knex.destroy();
        }
      };
      if (mode === 'session') await withBouncer(db, 'session', (bouncer) => run(bouncer.url));
      else await run(db.url);
      t.true((await indexesOf(db.knex, 'a'))[`a_${mode}_index`], mode);
    }
  });
});

test('transaction pooling: a raw string with its own BEGIN … COMMIT is refused; directly it runs with the timeouts, put back after', async (t) => {
  await withTables('zdpool', async (db) => {
    const sql = 'BEGIN; ALTER TABLE a ADD COLUMN own_tx int; COMMIT';
    await withBouncer(db, 'transaction', async (bouncer) => {
      const knex = knexOn(bouncer.url);
      try {
        const error = await t.throwsAsync(runOutside(knex, 'm', {}, (k) => k.raw(sql)), { instanceOf: TransactionPoolingError });
        t.regex(error.message, /\n {2}BEGIN; ALTER TABLE a ADD COLUMN own_tx int; COMMIT\nIt carries its own transaction control, so knex-zd cannot run it inside a transaction of its own with SET LOCAL timeouts; /);
        t.regex(error.message, /\nOr let knex-zd run the transaction: remove BEGIN\/COMMIT and use await knex\.transaction\(async \(trx\) => \{ … \}\)\.$/);
        t.false(await db.knex.schema.hasColumn('a', 'own_tx'));
      } finally {
        await knex.destroy();
      }
    });
    const knex = knexOn(db.url, 1);
    try {
      const blocker = await holdLock(db.url, 'LOCK TABLE a IN ACCESS SHARE MODE', 1_000);
      await runOutside(knex, 'm', {}, (k) => k.raw(sql));
      t.true(blocker.released, 'waited for the blocker, retrying');
      t.true(await db.knex.schema.hasColumn('a', 'own_tx'));
      const after = await knex.raw<{ rows: { l: string; s: string }[] }>("SELECT current_setting('lock_timeout') AS l, current_setting('statement_timeout') AS s");
      t.deepEqual(after.rows[0], { l: '0', s: '0' });
    } finally {
      await knex.destroy();
    }
  });
});

test('transaction pooling: the ALTER always runs with its lock timeout (a blocker stays until released, other clients keep the pool busy)', async (t) => {
  await withTables('zdpool', async (db) => {
    await withBouncer(db, 'transaction', async (bouncer) => {
      const watchers = await watchSettings(bouncer.url, 4);
      const knex = knexOn(bouncer.url);
      const RUNS = 20;
      const BLOCKER_MS = 4_000;
      const waits: number[] = [];
      const outcomes: string[] = [];
      try {
        for (let run = 0; run < RUNS; run++) {
          // Released after BLOCKER_MS: an ALTER without its lock timeout would wait that long, then run.
          const blocker = await holdLock(db.url, 'LOCK TABLE a IN ACCESS SHARE MODE', BLOCKER_MS);
          const started = Date.now();
          try {
            await runOutside(knex, 'm', { timeouts: { lock: '200ms', retries: 0 } }, (k) => k.raw('ALTER TABLE a ADD COLUMN x int'));
            outcomes.push('ran without its lock timeout');
            await db.knex.raw('ALTER TABLE a DROP COLUMN x');
          } catch (error) {
            outcomes.push(error instanceof LockTimeoutError ? 'lock timeout' : String(error));
          }
          waits.push(Date.now() - started);
          await blocker.release();
        }
      } finally {
        await knex.destroy();
      }
      const report = await watchers.stop();
      t.log(`ALTER waits (ms): ${waits.join(', ')}; other clients' reads: ${report.reads}, leaked: ${report.leaked}`);
      t.deepEqual(outcomes.filter((o) => o !== 'lock timeout'), []);
      t.true(Math.max(...waits) < 200 + 2_000, `longest wait ${Math.max(...waits)}ms`);
      t.is(report.leaked, 0, report.samples.join(', '));
      t.false(await db.knex.schema.hasColumn('a', 'x'));
    });
  });
});

test('transaction pooling, through the CLI: transactional, non-transactional and retried migrations; no other client ever reads a knex-zd setting, during or after', async (t) => {
  await withTables('zdpool', async (db) => {
    await withBouncer(db, 'transaction', async (bouncer) => {
      const project = await createProject({
        'knexfile.js': knexfileSource(bouncer.url),
        // knex's own transaction: SET LOCAL; retried from a savepoint while table c is locked.
        'migrations/001_transactional.js': `
exports.up = async (knex) => {
  await knex.schema.alterTable('a', (t) => { t.integer('one'); });
  await knex.schema.alterTable('c', (t) => { t.integer('one'); });
};
exports.down = async () => {};
`,
        // Run outside a transaction by knex-zd itself (VALIDATE needs a transaction of its own);
        // the ALTER of d is retried while d is locked.
        'migrations/002_outside.js': `
const { addCheckConstraint } = require('knex-zero-downtime');
exports.config = { stage: 'post-deploy' };
exports.up = async (knex) => {
  await knex.raw('ALTER TABLE b ADD COLUMN two int');
  await addCheckConstraint(knex, 'b', 'b_n_positive', 'n > 0');
  await knex.raw('ALTER TABLE d ADD COLUMN two int');
  await knex('b').update({ two: 2 }).where('id', '<', 10);
};
exports.down = async () => {};
`,
        'migrations/003_plain_outside.js': `
exports.config = { transaction: false };
exports.up = async (knex) => {
  for (let i = 0; i < 20; i++) await knex.raw('UPDATE a SET n = n + 1 WHERE id = ?', [i]);
  await knex.schema.alterTable('b', (t) => { t.integer('three'); });
};
exports.down = async () => {};
`,
      });
      const watchers = await watchSettings(bouncer.url, 4);
      const blockers = [
        await holdLock(db.url, 'LOCK TABLE c IN ACCESS SHARE MODE', 1_500),
        await holdLock(db.url, 'LOCK TABLE d IN ACCESS SHARE MODE', 3_000),
      ];
      try {
        const result = await project.run(['migrate:latest']);
        t.is(result.code, 0, result.stderr);
        t.true(blockers.every((b) => b.released), 'the blocked migrations waited for the blockers, retrying');
        // knex-zd has exited; other clients go on reading for a while.
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      } finally {
        await Promise.all(blockers.map((b) => b.release()));
        await project.remove();
      }
      const report = await watchers.stop();
      t.log(`other clients' reads: ${report.reads}, leaked: ${report.leaked}${report.samples.length > 0 ? ` (${report.samples.join(', ')})` : ''}`);
      t.true(report.reads > 100, `${report.reads} reads`);
      t.is(report.leaked, 0);
      for (const [table, column] of [['a', 'one'], ['c', 'one'], ['b', 'two'], ['d', 'two'], ['b', 'three']]) {
        t.true(await db.knex.schema.hasColumn(table, column), `${table}.${column}`);
      }
    });
  });
});

test('the README\'s knexfile of environments: through transaction pooling a concurrent build is refused and nothing changes; with --env migrate it runs', async (t) => {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const knexfile = [...readme.matchAll(/^```js knexfile\n([\s\S]*?)^```$/gm)].map((m) => m[1]).find((code) => code.includes('DIRECT_DATABASE_URL'));
  if (!knexfile) return t.fail('the README has no knexfile with DIRECT_DATABASE_URL');
  await withTables('zdpool', async (db) => {
    await withBouncer(db, 'transaction', async (bouncer) => {
      const project = await createProject({
        'knexfile.js': knexfile,
        'migrations/001_index.js': `
exports.up = (knex) => knex.raw('CREATE INDEX CONCURRENTLY a_n_index ON a (n)');
exports.down = (knex) => knex.raw('DROP INDEX CONCURRENTLY a_n_index');
`,
      });
      const env = { DATABASE_URL: bouncer.url, DIRECT_DATABASE_URL: db.url };
      try {
        const refused = await project.run(['migrate:latest', '--env', 'production'], env);
        t.is(refused.code, 1, refused.stderr);
        t.regex(refused.stderr, /Refusing to send a statement through a transaction-pooling connection \(/);
        t.regex(refused.stderr, /\n {2}CREATE INDEX CONCURRENTLY a_n_index ON a \(n\)\n/);
        t.regex(refused.stderr, /then run knex-zd migrate:latest --env migrate\./);
        t.deepEqual(await indexesOf(db.knex, 'a'), { a_pkey: true });
        const applied = await project.run(['migrate:latest', '--env', 'migrate'], env);
        t.is(applied.code, 0, applied.stderr);
        t.deepEqual(await indexesOf(db.knex, 'a'), { a_n_index: true, a_pkey: true });
      } finally {
        await project.remove();
      }
    });
  });
});

for (const mode of ['session', 'transaction'] as const) {
  test(`the pooling check leaves nothing behind (${mode} pooling, one server connection): not on the connection it checks, not for the next client`, async (t) => {
    await withTables('zdpool', async (db) => {
      await withBouncer(
        db,
        mode,
        async (bouncer) => {
          const knex = knexOn(bouncer.url, 1);
          try {
            await pinning(knex);
            const client = knex.client as Knex.Client & { _query(c: unknown, o: QueryObject): Promise<QueryObject> };
            const connection = await client.acquireConnection();
            try {
              const [row] = await sendInternal((c, o) => client._query(c, o), connection, { sql: READ, bindings: [] });
              t.deepEqual(row, { l: '0', s: '0', a: '' });
            } finally {
              await client.releaseConnection(connection);
            }
          } finally {
            await knex.destroy();
          }
          const next = knexOn(bouncer.url, 1);
          try {
            t.deepEqual((await next.raw<{ rows: unknown[] }>(READ)).rows[0], { l: '0', s: '0', a: '' });
          } finally {
            await next.destroy();
          }
        },
        mode === 'session' ? 2 : 1,
      );
    });
  });
}
