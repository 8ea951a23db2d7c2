import test from 'ava';
import { splitPreDeployRollback } from '../../../src/migrator/stage-order.js';
import { nearbyNames, didYouMean } from '../../../src/suggest.js';
import { report } from '../checks/support.js';

test('a --pre-deploy rollback reverts independent pre-deploy reverts early; one that depends on a waiting revert waits too', async (t) => {
  // In revert order: the reverse of the order they were applied.
  const ordered = [
    await report('004_create_archive.js', ['DROP TABLE archive'], { stage: 'post-deploy' }),
    await report('003_drop_archive_note.js', ['ALTER TABLE archive ADD COLUMN note text'], { stage: 'pre-deploy' }),
    await report('002_drop_legacy.js', ['ALTER TABLE users ADD COLUMN legacy text'], { stage: 'pre-deploy' }),
    await report('001_drop_archive_flag.js', ['ALTER TABLE archive ADD COLUMN flag text'], { stage: 'pre-deploy' }),
  ];
  const split = splitPreDeployRollback(ordered);
  t.deepEqual(split.now.map((m) => m.name), ['002_drop_legacy.js']);
  t.deepEqual(split.later.map((m) => m.name), ['004_create_archive.js', '003_drop_archive_note.js', '001_drop_archive_flag.js']);
  t.deepEqual(split.waiting, [
    { migration: '003_drop_archive_note.js', waitsFor: '004_create_archive.js', reason: 'both change archive' },
    { migration: '001_drop_archive_flag.js', waitsFor: '004_create_archive.js', reason: 'both change archive' },
  ]);
});

test('nearby names: the name without its extension or timestamp, or a few edits away', (t) => {
  const names = ['20250101000000_add_email.js', '20250102000000_drop_name.js', '20250103000000_add_index.js'];
  t.deepEqual(nearbyNames('add_email', names), ['20250101000000_add_email.js']);
  t.deepEqual(nearbyNames('20250101000000_add_emial.js', names), ['20250101000000_add_email.js']);
  t.deepEqual(nearbyNames('nope.js', names), []);
  t.is(didYouMean('missing-dwon', ['missing-down', 'migration-error']), ' Did you mean "missing-down"?');
  t.is(didYouMean('zzz', ['missing-down']), '');
});
