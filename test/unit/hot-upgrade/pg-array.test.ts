import test from 'ava';
import { HotUpgradeError } from '../../../src/errors.js';
import { parsePgArray } from '../../../src/hot-upgrade/pg-array.js';

const id = (text: string) => text;

test('parses quoted, bare and NULL elements', (t) => {
  t.deepEqual(parsePgArray('{X@y.z,"with space",NULL,"NULL","a\\"b","c\\\\d",""}', id), [
    'X@y.z',
    'with space',
    null,
    'NULL',
    'a"b',
    'c\\d',
    '',
  ]);
});

test('empty and nested arrays', (t) => {
  t.deepEqual(parsePgArray('{}', id), []);
  t.deepEqual(parsePgArray('{{1,2},{3,NULL}}', Number), [
    [1, 2],
    [3, null],
  ]);
});

test('ignores explicit bounds', (t) => {
  t.deepEqual(parsePgArray('[0:1]={a,b}', id), ['a', 'b']);
});

test('applies the element parser to each non-NULL element', (t) => {
  t.deepEqual(
    parsePgArray('{"\\"k\\"=>\\"v\\"",NULL,""}', (text) => `<${text}>`),
    ['<"k"=>"v">', null, '<>'],
  );
});

test('another delimiter', (t) => {
  t.deepEqual(parsePgArray('{(1,2),(3,4);(0,0),(1,1)}', id, ';'), ['(1,2),(3,4)', '(0,0),(1,1)']);
});

test('malformed arrays are errors', (t) => {
  t.throws(() => parsePgArray('a,b', id), { instanceOf: HotUpgradeError, message: /expected '\{' at position 0/ });
  t.throws(() => parsePgArray('{a,b', id), { instanceOf: HotUpgradeError });
  t.throws(() => parsePgArray('{"a}', id), { instanceOf: HotUpgradeError });
  t.throws(() => parsePgArray('{a}x', id), { instanceOf: HotUpgradeError });
});
