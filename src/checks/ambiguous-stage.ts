import type { CheckFinding } from '../analysis/migration-types.js';
import type { Check } from './types.js';

/** A migration whose stage nothing decides, or whose statements mix both stages. */
export const ambiguousStage: Check = {
  id: 'ambiguous-stage',
  description: 'every migration must resolve to one stage: pre-deploy or post-deploy',
  unsafe: false,
  run({ migrations }) {
    const findings: CheckFinding[] = [];
    for (const m of migrations) {
      if (m.stage !== null || m.error) continue;
      const name = JSON.stringify(m.name);
      if (m.ambiguity === 'mixed') {
        const pre = m.statements.filter((s) => s.analysis.stage === 'pre-deploy' || s.operation?.stage === 'pre-deploy');
        const post = m.statements.filter((s) => s.analysis.stage === 'post-deploy' || s.operation?.stage === 'post-deploy');
        findings.push({
          code: this.id,
          severity: 'error',
          migration: m.name,
          message:
            `${m.name} mixes pre-deploy statements (${pre.map((s) => s.analysis.summary).join(', ')}) with post-deploy ones ` +
            `(${post.map((s) => s.analysis.summary).join(', ')}): no moment of a deploy suits both, because old code breaks on the ` +
            'post-deploy part and new code needs the pre-deploy part before it starts.',
          hint:
            'Split it into two migrations, one per stage (the pre-deploy part first), or, if you have checked that old code ' +
            `survives all of it, declare the stage in the file: export const config = { stage: 'pre-deploy' };\n` +
            `or in the knexfile: zeroDowntime: { stages: { override: { ${name}: 'pre-deploy' } } }`,
        });
      } else {
        findings.push({
          code: this.id,
          severity: 'error',
          migration: m.name,
          message:
            `${m.name} runs no statement that decides a stage (only data changes, or nothing), and the knexfile sets ` +
            'stages.fallback: null, so knex-zd may not guess when it runs.',
          hint:
            `Declare it in the file: export const config = { stage: 'pre-deploy' };  // or 'post-deploy'\n` +
            `or in the knexfile: zeroDowntime: { stages: { override: { ${name}: 'post-deploy' } } }, ` +
            "or give such migrations a stage: zeroDowntime: { stages: { fallback: 'pre-deploy' } } (the default when fallback is not set)",
        });
      }
    }
    return findings;
  },
};
