import test from 'ava';
import { HotUpgradeError } from '../../../src/errors.js';
import { parseHstore } from '../../../src/hot-upgrade/hstore.js';

test('parses the output format of PostgreSQL, with escapes and NULLs', (t) => {
  t.deepEqual(parseHstore('"a"=>"1", "b c"=>NULL, "q\\"x"=>"back\\\\slash", "null"=>"NULL", "empty"=>""'), {
    a: '1',
    'b c': null,
    'q"x': 'back\\slash',
    null: 'NULL',
    empty: '',
  });
});

test('an empty hstore is an empty object', (t) => {
  t.deepEqual(parseHstore(''), {});
  t.deepEqual(parseHstore('   '), {});
});

test('accepts the input format too: bare words, any spacing, NULL in any case', (t) => {
  t.deepEqual(parseHstore('a=>1,b => null ,  c=>"x, y"'), { a: '1', b: null, c: 'x, y' });
  t.deepEqual(parseHstore('"=>"=>"=>", ","=>","'), { '=>': '=>', ',': ',' });
});

test('keeps unicode and newlines', (t) => {
  t.deepEqual(parseHstore('"clé"=>"värde\n2", "emoji"=>"🐘"'), { clé: 'värde\n2', emoji: '🐘' });
});

test('a __proto__ key is an own property, not the prototype', (t) => {
  const value = parseHstore('"__proto__"=>"x", "a"=>"1"');
  t.is(Object.getPrototypeOf(value), Object.prototype);
  t.deepEqual(Object.keys(value), ['__proto__', 'a']);
  t.is(Object.getOwnPropertyDescriptor(value, '__proto__')?.value, 'x');
});

test('the first of repeated keys wins, as in PostgreSQL', (t) => {
  t.deepEqual(parseHstore('a=>1, a=>2'), { a: '1' });
});

test('text that is not an hstore is an error that says what to check', (t) => {
  const error = t.throws(() => parseHstore('{a,b}'), { instanceOf: HotUpgradeError });
  t.is(
    error.message,
    'Cannot parse an hstore value: expected \'=>\' at position 2 of "{a,b}". The column is probably not an hstore on this server: check that the hot-upgrade registry resolved the right type.',
  );
  t.is(error.code, 'ZD_HOT_UPGRADE');
  t.throws(() => parseHstore('"a"=>"1'), { instanceOf: HotUpgradeError });
  t.throws(() => parseHstore('a=>1,'), { instanceOf: HotUpgradeError });
  t.throws(() => parseHstore('a=>1 b=>2'), { instanceOf: HotUpgradeError });
});
