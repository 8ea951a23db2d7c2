import test from 'ava';
import { BACKSTAGE_SETS } from '../../corpus/backstage.js';
import { compareWithShadow, referenceSchema, runSet } from '../../corpus/run-set.js';

// A fast subset of `npm run corpus` (which runs every set): real migrations, none written for
// knex-zd, fetched from the npm registry (`npm pack`) on first use. Serial: each run watches
// what node-postgres sends, through one patch of the driver at a time.
const SUBSET = ['auth', 'scheduler', 'events', 'user-settings'];

for (const set of BACKSTAGE_SETS.filter((s) => SUBSET.includes(s.name))) {
  test.serial(`Backstage ${set.name}: in shadow mode no analysis error, no divergence, no false rewrite, no lock disagreement, and plain knex's schema; capture agrees`, async (t) => {
    const reference = await referenceSchema(set);
    const shadow = await runSet(set, 'shadow', reference);
    t.deepEqual(shadow.analysisErrors, []);
    t.deepEqual(shadow.divergences, []);
    t.is(shadow.falseRewrites, 0);
    t.is(shadow.lockDisagreements, 0);
    t.deepEqual(shadow.schemaDiff, []);
    t.true(shadow.plan.migrations.every((m) => m.analysedBy === 'shadow'));

    const capture = await runSet(set, 'capture', reference);
    t.deepEqual(capture.analysisErrors, []);
    t.deepEqual(capture.divergences, []);
    t.deepEqual(capture.schemaDiff, []);
    const versus = compareWithShadow(capture.plan, shadow.plan);
    t.is(versus.falseRewrites, 0);
    t.is(versus.lockDisagreements, 0);
    t.true(versus.compared > 0);
  });
}
