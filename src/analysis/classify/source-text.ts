/** Slices of the statement's source text (the parser gives start locations only), for hints that quote the user's SQL. */

/** The contents of the first parenthesised group at or after the start of `text`, quotes respected. */
export function parenGroup(text: string): { inner: string; end: number } | null {
  let depth = 0;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === "'" || char === '"') {
      const close = text.indexOf(char, i + 1);
      if (close < 0) return null;
      i = close;
    } else if (char === '(') {
      if (depth === 0) start = i + 1;
      depth++;
    } else if (char === ')') {
      depth--;
      if (depth === 0 && start >= 0) return { inner: text.slice(start, i), end: i + 1 };
    }
  }
  return null;
}

export function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === "'" || char === '"') {
      const close = text.indexOf(char, i + 1);
      if (close < 0) break;
      i = close;
    } else if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (char === ',' && depth === 0) {
      parts.push(text.slice(from, i).trim());
      from = i + 1;
    }
  }
  parts.push(text.slice(from).trim());
  return parts.filter((part) => part !== '');
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
