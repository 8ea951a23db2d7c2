import test from 'ava';
import { columnsAddition, defaultCheckName, defaultForeignKeyName, defaultIndexName, defaultKeyName, makeObjectName } from '../../../src/safe-by-default/names.js';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

test('short names are <table>_<columns>_<label>, as PostgreSQL writes them', (t) => {
  t.is(defaultIndexName('users', ['a', 'b']), 'users_a_b_idx');
  t.is(defaultKeyName('users', ['email'], false), 'users_email_key');
  t.is(defaultKeyName('users', ['id'], true), 'users_pkey');
  t.is(defaultForeignKeyName('users', ['org_id']), 'users_org_id_fkey');
  t.is(defaultCheckName('users', ['c', 'c']), 'users_c_check');
  t.is(defaultCheckName('users', ['a', 'b']), 'users_check');
  t.is(defaultCheckName('users', []), 'users_check');
  t.is(defaultIndexName('we"ird?', ['Ünï?']), 'we"ird?_Ünï?_idx');
});

test('a long name is cut to 63 bytes, the longer part first, never inside a character', (t) => {
  const table = 't'.repeat(60);
  t.is(makeObjectName(table, 'col', 'idx'), `${'t'.repeat(55)}_col_idx`);
  t.is(bytes(makeObjectName(table, 'c'.repeat(60), 'idx')), 63);
  t.is(makeObjectName(table, 'c'.repeat(60), 'idx'), `${'t'.repeat(29)}_${'c'.repeat(29)}_idx`);
  // 31 two-byte characters: clipping to 29 bytes keeps 14 whole characters (28 bytes).
  const name = makeObjectName('é'.repeat(31), 'é'.repeat(31), 'key');
  t.is(name, `${'é'.repeat(14)}_${'é'.repeat(14)}_key`);
  t.true(bytes(name) <= 63);
});

test('the columns part stops once it reaches NAMEDATALEN bytes', (t) => {
  const columns = Array.from({ length: 10 }, (_, i) => `column_number_${i}`);
  const addition = columnsAddition(columns);
  t.true(bytes(addition) >= 64);
  t.true(addition.startsWith('column_number_0_column_number_1_'));
  t.false(addition.includes('column_number_9'));
});
