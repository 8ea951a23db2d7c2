import test from 'ava';
import { concurrentIndexCorruption } from '../../../src/checks/unsafe/concurrent-index-corruption.js';
import { forServerVersion, versionText } from '../../../src/checks/server-version.js';
import { parseSettings } from '../../../src/config.js';
import { facts, report } from './support.js';

const STATEMENTS = [
  'CREATE INDEX CONCURRENTLY orders_c ON orders (c)',
  { sql: 'CREATE UNIQUE INDEX CONCURRENTLY "orders_ref" ON "public"."orders" ("ref")', stepTransaction: 'none' as const, operation: { name: 'addIndexConcurrently', stage: 'post-deploy' as const } },
  'REINDEX INDEX CONCURRENTLY orders_c',
  'CREATE INDEX orders_d ON orders (d)',
];

async function codes(serverVersion: number | null) {
  const m = await report('m1', STATEMENTS, { transaction: false });
  return concurrentIndexCorruption.run({ migrations: [m], settings: parseSettings({}), target: facts({}, serverVersion) });
}

test('on 14.0–14.3, every concurrent build or rebuild is an error, operations included', async (t) => {
  const findings = await codes(140_002);
  t.deepEqual(findings.map((f) => f.statement), [STATEMENTS[0], (STATEMENTS[1] as { sql: string }).sql, STATEMENTS[2]]);
  t.is(
    findings[0].message,
    'The target server runs PostgreSQL 14.2, where CREATE INDEX CONCURRENTLY and REINDEX CONCURRENTLY can build a corrupt index (rows written during the build may be missing from it, so queries through it miss them); 14.4 fixed it. m1 runs CREATE INDEX CONCURRENTLY orders_c ON orders (c).',
  );
  t.is((await codes(140_000)).length, 3);
  t.is((await codes(140_003)).length, 3);
});

test('not on 14.4+, 13, 15+, nor when the version is unknown', async (t) => {
  for (const version of [140_004, 140_010, 130_012, 150_004, 170_000, null]) t.deepEqual(await codes(version), [], String(version));
});

test('versionText and version-dependent hints', (t) => {
  t.is(versionText(140_002), '14.2');
  t.is(versionText(170_010), '17.10');
  t.is(versionText(90_624), '9.6.24');
  const finding = { code: 'detach-partition-blocking', severity: 'warning' as const, message: 'm', hint: 'await knex.raw(…CONCURRENTLY…);' };
  t.is(forServerVersion(finding, 150_000), finding);
  t.is(forServerVersion(finding, null), finding);
  t.is(
    forServerVersion(finding, 130_005).hint,
    '// The target server is PostgreSQL 13.5: CONCURRENTLY needs 14 or later.\n// Run it in a maintenance window (or upgrade first); on a newer server it would be:\nawait knex.raw(…CONCURRENTLY…);',
  );
  t.regex(forServerVersion({ ...finding, code: 'reindex-blocking' }, 110_000).hint!, /^\/\/ The target server is PostgreSQL 11\.0: CONCURRENTLY needs 12 or later\./);
});
