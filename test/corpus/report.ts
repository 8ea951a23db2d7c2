/**
 * `npm run corpus`: every Backstage migration set on fresh databases, with plain knex and with
 * knex-zd in shadow and capture mode; prints the table of the closing note (markdown) and
 * exits 1 when a shadow run has an analysis error, a divergence, a false rewrite or a schema
 * that differs from plain knex's. `-- catalog,auth` picks sets.
 */
import { BACKSTAGE_SETS } from './backstage.js';
import { compareWithShadow, referenceSchema, runSet, type SetResult } from './run-set.js';

const wanted = process.argv[2]?.split(',');
const sets = BACKSTAGE_SETS.filter((s) => !wanted || wanted.includes(s.name));
const rows: string[] = [];
let failed = false;
const totals = { migrations: 0, shadow: [0, 0, 0, 0, 0], capture: [0, 0, 0, 0, 0] };
for (const set of sets) {
  const reference = await referenceSchema(set);
  const shadow = await runSet(set, 'shadow', reference);
  const capture = await runSet(set, 'capture', reference);
  const vsShadow = compareWithShadow(capture.plan, shadow.plan);
  const cell = (r: SetResult, falseRewrites: number, locks: number) =>
    [r.analysisErrors.length, r.divergences.length, falseRewrites, locks, r.schemaDiff.length];
  const s = cell(shadow, shadow.falseRewrites, shadow.lockDisagreements);
  const c = cell(capture, vsShadow.falseRewrites, vsShadow.lockDisagreements);
  totals.migrations += shadow.migrations;
  s.forEach((v, i) => (totals.shadow[i] += v));
  c.forEach((v, i) => (totals.capture[i] += v));
  rows.push(`| ${set.name} | ${shadow.migrations} | ${s.join(' / ')} | ${c.join(' / ')} | ${shadow.refusedByDefault.length} | ${Math.round(shadow.planMs)} / ${Math.round(capture.planMs)} |`);
  if (s.some((v) => v > 0)) failed = true;
  for (const r of [shadow, capture]) {
    for (const [name, message] of r.analysisErrors) console.error(`${set.name} ${r.mode}: analysis error ${name}: ${message}`);
    for (const d of r.divergences) console.error(`${set.name} ${r.mode}: divergence ${d}`);
    for (const d of r.schemaDiff) console.error(`${set.name} ${r.mode}: schema ${d}`);
  }
  for (const f of shadow.refusedByDefault) console.error(`${set.name}: a default config refuses: ${f}`);
}
console.log('| set | migrations | shadow: errors / divergences / false rewrites / lock disagreements / schema diffs | capture: the same | refused by default (errors) | plan ms shadow / capture |');
console.log('|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
console.log(`| **all** | ${totals.migrations} | ${totals.shadow.join(' / ')} | ${totals.capture.join(' / ')} | | |`);
process.exitCode = failed ? 1 : 0;
