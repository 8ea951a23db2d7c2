import test from 'ava';
import { parseSettings } from '../../../src/config.js';
import { inferStage, invertStage, resolveStage } from '../../../src/stages.js';

const settings = parseSettings({
  stages: { override: { '002_override.js': 'post-deploy' }, fallback: null },
});
const withFallback = parseSettings({ stages: { fallback: 'post-deploy' } });
const byDefault = parseSettings({});

const cases: Array<[string, Parameters<typeof resolveStage>[0], ReturnType<typeof resolveStage>]> = [
  ['the file wins over everything', { name: '002_override.js', declared: 'pre-deploy', inferred: { pre: 0, post: 3 }, settings }, { stage: 'pre-deploy', source: 'file' }],
  ['the override wins over inference', { name: '002_override.js', declared: undefined, inferred: { pre: 2, post: 0 }, settings }, { stage: 'post-deploy', source: 'override' }],
  ['all pre → pre', { name: 'x.js', declared: undefined, inferred: { pre: 2, post: 0 }, settings }, { stage: 'pre-deploy', source: 'inferred' }],
  ['any post and no pre → post', { name: 'x.js', declared: undefined, inferred: { pre: 0, post: 1 }, settings }, { stage: 'post-deploy', source: 'inferred' }],
  ['a mix is ambiguous', { name: 'x.js', declared: undefined, inferred: { pre: 1, post: 1 }, settings }, { stage: null, source: null, reason: 'mixed' }],
  ['nothing decides, fallback: null → ambiguous', { name: 'x.js', declared: undefined, inferred: { pre: 0, post: 0 }, settings }, { stage: null, source: null, reason: 'undetermined' }],
  ['nothing decides → the knexfile fallback', { name: 'x.js', declared: undefined, inferred: { pre: 0, post: 0 }, settings: withFallback }, { stage: 'post-deploy', source: 'fallback' }],
  ['nothing decides, no fallback set → pre-deploy by default', { name: 'x.js', declared: undefined, inferred: { pre: 0, post: 0 }, settings: byDefault }, { stage: 'pre-deploy', source: 'default' }],
  ['a mix stays ambiguous whatever the fallback', { name: 'x.js', declared: undefined, inferred: { pre: 1, post: 1 }, settings: withFallback }, { stage: null, source: null, reason: 'mixed' }],
  ['a mix stays ambiguous with the default fallback', { name: 'x.js', declared: undefined, inferred: { pre: 1, post: 1 }, settings: byDefault }, { stage: null, source: null, reason: 'mixed' }],
];

for (const [title, input, expected] of cases) {
  test(`resolveStage: ${title}`, (t) => {
    t.deepEqual(resolveStage(input), expected);
  });
}

test('inferStage and invertStage', (t) => {
  t.is(inferStage(null), null);
  t.is(inferStage({ pre: 0, post: 0 }), null);
  t.is(inferStage({ pre: 3, post: 0 }), 'pre-deploy');
  t.is(inferStage({ pre: 0, post: 3 }), 'post-deploy');
  t.is(inferStage({ pre: 1, post: 3 }), 'mixed');
  t.is(invertStage('pre-deploy'), 'post-deploy');
  t.is(invertStage('post-deploy'), 'pre-deploy');
});
