import test from 'ava';
import { generatedName, quoteIdentifier, quoteQualified } from '../../../src/identifiers.js';
import { IdentifierError } from '../../../src/errors.js';
import { literal } from '../../../src/operations/sql.js';

test('identifiers are always quoted, embedded quotes doubled', (t) => {
  t.is(quoteIdentifier('orders'), '"orders"');
  t.is(quoteIdentifier('we"ird'), '"we""ird"');
  t.is(quoteQualified('Sales', 'Order Items'), '"Sales"."Order Items"');
  t.throws(() => quoteIdentifier(''), { instanceOf: IdentifierError });
  t.throws(() => quoteIdentifier('a\0b'), { instanceOf: IdentifierError });
  t.throws(() => quoteIdentifier('x'.repeat(64)), { instanceOf: IdentifierError, message: /longer than PostgreSQL's 63 bytes/ });
});

test('generated names are kept within 63 bytes with a stable hash, never splitting a character', (t) => {
  t.is(generatedName(['orders', 'customer_id', 'index']), 'orders_customer_id_index');
  const long = generatedName(['a'.repeat(40), 'b'.repeat(40), 'index']);
  t.is(Buffer.byteLength(long), 63);
  t.is(long, generatedName(['a'.repeat(40), 'b'.repeat(40), 'index']));
  t.not(long, generatedName(['a'.repeat(40), 'b'.repeat(40), 'unique']));
  const multibyte = generatedName(['é'.repeat(40), 'index']);
  t.true(Buffer.byteLength(multibyte) <= 63);
  t.regex(multibyte, /^é+_[0-9a-f]{8}$/);
});

test('literals are escaped whatever standard_conforming_strings says', (t) => {
  t.is(literal("it's"), "E'it''s'");
  t.is(literal('back\\slash'), "E'back\\\\slash'");
  t.is(literal(42), '42');
  t.is(literal(true), 'TRUE');
  t.is(literal(null), 'NULL');
  t.is(literal(new Date('2025-01-01T00:00:00Z')), "E'2025-01-01T00:00:00.000Z'");
  t.throws(() => literal(Number.NaN));
});
