/** Slices of the statement's source text (the parser gives start locations only), for hints that quote the user's SQL. */

/**
 * Walks `text` outside quoted strings and identifiers (each skipped whole), calling `visit` with
 * every other character, its index and the parenthesis depth once that character is counted.
 * `visit` returns `'stop'` to end the walk, or a number of characters to skip. Returns how the
 * walk ended (`'unterminated'`: a quote that never closes).
 */
function walk(text: string, visit: (char: string, i: number, depth: number) => number | 'stop' | undefined): 'done' | 'stopped' | 'unterminated' {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === "'" || char === '"') {
      const close = text.indexOf(char, i + 1);
      if (close < 0) return 'unterminated';
      i = close;
      continue;
    }
    if (char === '(') depth++;
    else if (char === ')') depth--;
    const next = visit(char, i, depth);
    if (next === 'stop') return 'stopped';
    if (next !== undefined) i += next;
  }
  return 'done';
}

/** The contents of the first parenthesised group at or after the start of `text`, quotes respected. */
export function parenGroup(text: string): { inner: string; end: number } | null {
  let start = -1;
  let group: { inner: string; end: number } | null = null;
  walk(text, (char, i, depth) => {
    if (char === '(' && depth === 1) start = i + 1;
    else if (char === ')' && depth === 0 && start >= 0) {
      group = { inner: text.slice(start, i), end: i + 1 };
      return 'stop';
    }
    return undefined;
  });
  return group;
}

/** `text` split at its top-level commas (outside quotes and parentheses), each part trimmed, empty ones left out. */
export function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let from = 0;
  walk(text, (char, i, depth) => {
    if (char === ',' && depth === 0) {
      parts.push(text.slice(from, i).trim());
      from = i + 1;
    }
    return undefined;
  });
  parts.push(text.slice(from).trim());
  return parts.filter((part) => part !== '');
}

/** Positions of `words` (lower case) as keywords outside quotes and parentheses. */
export function topLevelWords(text: string, words: readonly string[]): { word: string; index: number }[] {
  const found: { word: string; index: number }[] = [];
  walk(text, (char, i, depth) => {
    if (depth !== 0 || !/[a-z]/i.test(char) || (i > 0 && /[\w$]/.test(text[i - 1]))) return undefined;
    const word = /^[a-z_]+/i.exec(text.slice(i))?.[0].toLowerCase() ?? '';
    if (words.includes(word)) found.push({ word, index: i });
    return Math.max(0, word.length - 1);
  });
  return found;
}

/** The text of the expression starting `text`: a call with its arguments and casts, or one token. */
export function expressionText(text: string): string {
  const call = /^[\w."$]+\s*(?=\()/.exec(text);
  let end: number;
  if (call) {
    const group = parenGroup(text.slice(call[0].length));
    end = call[0].length + (group?.end ?? 0);
  } else if (text.startsWith("'")) {
    end = text.indexOf("'", 1) + 1 || text.length;
  } else {
    end = /^[^\s,()]+/.exec(text)?.[0].length ?? text.length;
  }
  const cast = /^(\s*::\s*[\w."]+(\s*\([\d,\s]*\))?(\[\])?)+/.exec(text.slice(end));
  return text.slice(0, end + (cast?.[0].length ?? 0)).trim();
}
