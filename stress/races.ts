/**
 * Races two real `knex-zd migrate:latest` processes on fresh databases, N times, and prints the tally:
 *   npm run stress:races -- 100
 * Each race: a transactional, a slow and a non-transactional migration; both processes must exit 0,
 * every migration must be applied exactly once, no lock may be left, and a plain rerun must find
 * nothing to do. Exits 1 when any race went wrong.
 */
import { createRaceProject, runRace, type RaceOutcome } from '../test/integration/migrator/support/race.js';

const count = Number(process.argv[2] ?? 100);
if (!Number.isInteger(count) || count < 1) {
  process.stderr.write(`usage: npm run stress:races -- N (a whole number of races, got ${process.argv[2]})\n`);
  process.exit(2);
}

const project = await createRaceProject();
const tally = new Map<RaceOutcome['verdict'], number>();
const problemTally = new Map<string, number>();
const examples = new Map<string, string>();
const started = Date.now();
try {
  for (let i = 1; i <= count; i++) {
    const outcome = await runRace(project);
    tally.set(outcome.verdict, (tally.get(outcome.verdict) ?? 0) + 1);
    for (const kind of new Set(outcome.problems.map((p) => p.kind))) problemTally.set(kind, (problemTally.get(kind) ?? 0) + 1);
    for (const p of outcome.problems) {
      const key = p.detail.replace(/\d+/g, 'N');
      if (!examples.has(key)) examples.set(key, `${p.kind}: ${p.detail}`);
    }
    const waited = outcome.runs.some((r) => /waiting/i.test(r.stderr) && /migration lock/i.test(r.stderr)) ? ' (one waited for the other)' : '';
    const details = outcome.problems.map((p) => `${p.kind} (${p.detail})`).join('; ');
    process.stdout.write(`race ${i}/${count}: ${outcome.verdict}${details ? ` — ${details}` : ''}${waited}\n`);
  }
} finally {
  await project.remove();
}

const seconds = ((Date.now() - started) / 1000).toFixed(0);
process.stdout.write(`\n${count} races in ${seconds}s: ${tally.get('ok') ?? 0} ok, ${count - (tally.get('ok') ?? 0)} with a problem\n`);
if (problemTally.size > 0) {
  process.stdout.write('Races with each problem (a race can have several):\n');
  for (const [kind, n] of [...problemTally.entries()].sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${kind.padEnd(14)} ${n}\n`);
  process.stdout.write('Distinct failures:\n');
  for (const example of examples.values()) process.stdout.write(`  ${example}\n`);
}
process.exitCode = (tally.get('ok') ?? 0) === count ? 0 : 1;
