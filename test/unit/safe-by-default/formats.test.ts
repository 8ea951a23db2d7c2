import test from 'ava';
import type { MigrationReport } from '../../../src/analysis/migration-types.js';
import { loadParser } from '../../../src/analysis/parser.js';
import { CHECKS, runChecks } from '../../../src/checks/index.js';
import { formatFinding, formatMigration, migrationJson } from '../../../src/cli/format.js';
import { planMarkdown } from '../../../src/cli/formats/markdown.js';
import { palette } from '../../../src/cli/output.js';
import { parseSettings } from '../../../src/config.js';
import { NO_TARGET_FACTS } from '../../../src/analysis/table-stats.js';
import { candidateOf } from '../../../src/safe-by-default/candidate.js';
import type { SafeFormDirective } from '../../../src/safe-by-default/directive.js';
import { report } from '../checks/support.js';

test.before(async () => {
  await loadParser();
});

const INDEX = 'create index "orders_c_index" on "orders" ("c")';
const CHECK = 'ALTER TABLE orders ADD CONSTRAINT orders_total CHECK (total >= 0)';

async function planned(): Promise<MigrationReport> {
  const [index, check] = (await report('001.js', [INDEX, CHECK])).statements;
  const directives: SafeFormDirective[] = [
    { ordinal: 0, sql: INDEX, kind: candidateOf(INDEX)!.kind, stage: 'pre-deploy', findings: index.analysis.findings },
    { ordinal: 1, sql: CHECK, kind: candidateOf(CHECK)!.kind, stage: 'post-deploy', findings: check.analysis.findings },
  ];
  const steps = await report(
    '001.js',
    [
      { sql: 'CREATE INDEX CONCURRENTLY orders_c_index ON public.orders (c)', stepTransaction: 'none', operation: { name: 'addIndexConcurrently', stage: 'pre-deploy' } },
    ],
    { transaction: false },
  );
  // The CHECK's safe form had nothing left to run (an earlier run finished it).
  return { ...steps, safeForms: directives, statements: steps.statements.map((s) => ({ ...s, safeForm: directives[0] })) };
}

test('migrate:plan (text) names the statement above the steps that run instead, and one with nothing left to run', async (t) => {
  const text = formatMigration(await planned(), palette(false));
  t.is(
    text,
    [
      '001.js  pre-deploy (inferred)  outside a transaction',
      '  safeByDefault: 2 statements run in their safe form, so the migration runs outside a transaction (each statement commits on its own).',
      '  safe form of: create index "orders_c_index" on "orders" ("c")',
      '  1. CREATE INDEX CONCURRENTLY  SHARE UPDATE EXCLUSIVE on public.orders  scans table, outside transaction via addIndexConcurrently',
      '     CREATE INDEX CONCURRENTLY orders_c_index ON public.orders (c)',
      '  safe form of: ALTER TABLE orders ADD CONSTRAINT orders_total CHECK (total >= 0)  (already done: nothing left to run)',
    ].join('\n'),
  );
});

test('migrate:plan --json and --format markdown say the same; check prints the note', async (t) => {
  const m = await planned();
  const json = migrationJson(m);
  t.deepEqual(json.safeForms, [
    { ordinal: 0, statement: INDEX, kind: 'index' },
    { ordinal: 1, statement: CHECK, kind: 'check' },
  ]);
  t.deepEqual(json.statements[0].safeFormOf, { ordinal: 0, statement: INDEX });
  const checks = runChecks([m], parseSettings({ safeByDefault: true }), CHECKS, NO_TARGET_FACTS);
  const markdown = planMarkdown({ direction: 'up', stage: null, migrations: [m], skipped: [], conflicts: [], checks, target: NO_TARGET_FACTS, analysis: { mode: 'capture', schema: null, database: null, notice: null }, completed: [], waiting: [], missing: [] });
  t.true(markdown.includes('Safe form of:\n\n```sql\ncreate index "orders_c_index" on "orders" ("c")\n```'), markdown);
  t.true(markdown.includes('Safe form of (already done: nothing left to run):\n\n```sql\nALTER TABLE orders ADD CONSTRAINT orders_total CHECK (total >= 0)\n```'), markdown);
  t.true(markdown.includes('#### Findings: 0 errors, 0 warnings, 2 notes'), markdown);
  const [note] = checks.findings;
  t.is(
    formatFinding(note, palette(false)),
    [
      'note [create-index-blocking] 001.js',
      '  Adding an index non-concurrently blocks writes to "orders" for as long as the build takes (CREATE INDEX holds a SHARE lock on the table).',
      '  statement: create index "orders_c_index" on "orders" ("c")',
      '  runs in its safe form (safeByDefault): CREATE INDEX CONCURRENTLY (an INVALID index left by an interrupted build is dropped first). The migration runs outside a transaction: each statement commits on its own.',
    ].join('\n'),
  );
});
