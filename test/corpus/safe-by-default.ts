/**
 * `node --import tsx test/corpus/safe-by-default.ts [sets]`: `safeByDefault` on the Backstage
 * migration sets, as a project adopting it would meet them: the first half of each set applied by
 * plain knex (the tables exist), the second half pending. Counts the refusals of the pending half
 * (with `checks.smallTable: 0`, so that the corpus's empty tables count as tables in use), how many
 * of them run in their safe form, and applies the half with `safeByDefault` (the other refusals as
 * warnings): the safe forms' steps against what the driver sent, and the schema against plain knex's.
 */
import { checkRules } from '../../src/checks/index.js';
import { createStagedMigrator } from '../../src/migrator/staged-migrator.js';
import { SAFE_FORM_FINDING } from '../../src/safe-by-default/candidate.js';
import { createTestDatabase } from '../helpers/db.js';
import { actions, recordDriver } from '../integration/safe-by-default/support.js';
import { BACKSTAGE_SETS, corpusKnex, migrationFiles, migrationsOf } from './backstage.js';
import { referenceSchema } from './run-set.js';
import { schemaDiff, schemaLines } from './schema.js';

const REWRITABLE = new Set(Object.values(SAFE_FORM_FINDING));
const wanted = process.argv[2]?.split(',');
const rows: string[] = [];
const totals = [0, 0, 0, 0, 0, 0];

for (const set of BACKSTAGE_SETS.filter((s) => !wanted || wanted.includes(s.name))) {
  const directory = await migrationsOf(set);
  const files = await migrationFiles(set);
  const applied = Math.floor(files.length / 2);
  const reference = await referenceSchema(set);
  const db = await createTestDatabase('safe_corpus');
  const plain = corpusKnex(db.url, directory);
  const base = { shadow: false, checks: { smallTable: 0 } };
  const without = corpusKnex(db.url, directory, base);
  const withSafe = corpusKnex(db.url, directory, { ...base, safeByDefault: true });
  const lenient = Object.fromEntries(checkRules().filter((r) => !REWRITABLE.has(r.id)).map((r) => [r.id, 'warning']));
  const applying = corpusKnex(db.url, directory, { ...base, safeByDefault: true, checks: { ...lenient, smallTable: 0 } });
  try {
    for (let i = 0; i < applied; i++) await plain.migrate.up();
    const before = await createStagedMigrator(without).planLatest();
    const refused = before.checks.findings.filter((f) => f.severity === 'error');
    const after = await createStagedMigrator(withSafe).planLatest();
    const safe = after.checks.findings.filter((f) => f.safeForm);
    const left = after.checks.findings.filter((f) => f.severity === 'error');
    const plan = await createStagedMigrator(applying).planLatest();
    const driver = recordDriver();
    driver.start();
    try {
      await createStagedMigrator(applying).latest({ plan });
    } finally {
      driver.stop();
    }
    // The safe forms' steps must reach the server, in order, and the statements they replace must not
    // (the rest of a plan made in capture mode can differ where a migration loops over rows).
    const steps = plan.migrations.flatMap((m) => m.statements.filter((s) => s.safeForm).map((s) => s.sql));
    const originals = plan.migrations.flatMap((m) => (m.safeForms ?? []).map((d) => d.sql));
    const sent = actions(driver.sent);
    let at = 0;
    for (const sql of sent) if (sql === steps[at]) at++;
    const divergences = steps.length - at + sent.filter((sql) => originals.includes(sql.trim())).length;
    const diff = schemaDiff(reference, await schemaLines(db.url));
    const counts = [files.length - applied, refused.length, refused.filter((f) => REWRITABLE.has(f.code)).length, safe.length, divergences, diff.length];
    counts.forEach((n, i) => (totals[i] += n));
    rows.push(`| ${set.name} | ${counts.join(' | ')} | ${[...new Set(safe.map((f) => f.code))].join(', ')} |`);
    for (const f of left) console.error(`${set.name}: still refused: ${f.code} ${f.migration ?? ''}`);
    for (const d of diff) console.error(`${set.name}: schema ${d}`);
    if (divergences > 0) console.error(`${set.name}: safe-form steps\n  ${steps.join('\n  ')}\nsent\n  ${sent.join('\n  ')}`);
  } finally {
    for (const k of [plain, without, withSafe, applying]) await k.destroy();
    await db.drop();
  }
}
console.log('| set | pending | refused | refused, with a safe form | run in their safe form | safe-form steps not sent as planned | schema diffs | forms |');
console.log('|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
console.log(`| **all** | ${totals.join(' | ')} | |`);
