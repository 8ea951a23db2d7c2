import { HotUpgradeError } from '../errors.js';

/** A possibly nested array as PostgreSQL returns it, with `null` for NULL elements. */
export type PgArray<T> = Array<T | null | PgArray<T>>;

function isSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r';
}

function fail(text: string, position: number, expected: string): never {
  throw new HotUpgradeError(
    `Cannot parse an array value: expected ${expected} at position ${position} of ${JSON.stringify(text.slice(0, 200))}.`,
    { details: { position, expected } },
  );
}

/**
 * Parses the text format of a PostgreSQL array (`{a,"b c",NULL,{1,2}}`, optionally prefixed by
 * dimensions such as `[0:1]=`) and parses each non-NULL element with `parseElement`.
 * @param delimiter - the element type's `typdelim`. @default ','
 */
export function parsePgArray<T>(text: string, parseElement: (text: string) => T, delimiter = ','): PgArray<T> {
  let pos = 0;
  const length = text.length;
  if (text[0] === '[') {
    // Explicit bounds only say where indexes start; a JavaScript array always starts at 0.
    pos = text.indexOf('=');
    if (pos < 0) fail(text, 0, "'=' after the array dimensions");
    pos++;
  }

  const readArray = (): PgArray<T> => {
    if (text[pos] !== '{') fail(text, pos, "'{'");
    pos++;
    const items: PgArray<T> = [];
    for (;;) {
      while (isSpace(text[pos])) pos++;
      if (pos >= length) fail(text, pos, "'}'");
      if (text[pos] === '}') {
        pos++;
        return items;
      }
      if (items.length > 0) {
        if (text[pos] !== delimiter) fail(text, pos, `'${delimiter}' or '}'`);
        pos++;
        while (isSpace(text[pos])) pos++;
      }
      const ch = text[pos];
      if (ch === '{') {
        items.push(readArray());
      } else if (ch === '"') {
        pos++;
        let element = '';
        for (;;) {
          if (pos >= length) fail(text, pos, 'a closing quote');
          const c = text[pos++];
          if (c === '"') break;
          element += c === '\\' ? (text[pos++] ?? fail(text, pos, 'a character after the backslash')) : c;
        }
        items.push(parseElement(element));
      } else {
        let element = '';
        while (pos < length && text[pos] !== delimiter && text[pos] !== '}') {
          const c = text[pos++];
          element += c === '\\' ? (text[pos++] ?? fail(text, pos, 'a character after the backslash')) : c;
        }
        element = element.trimEnd();
        if (element === '') fail(text, pos, 'an element');
        items.push(element.toUpperCase() === 'NULL' ? null : parseElement(element));
      }
    }
  };

  const result = readArray();
  while (isSpace(text[pos])) pos++;
  if (pos !== length) fail(text, pos, 'the end of the array');
  return result;
}
