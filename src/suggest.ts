import { distance } from 'fastest-levenshtein';

/**
 * The candidates closest to a mistyped `input`, best first: those that contain it (or that it
 * contains, once extensions are set aside), then those within a few edits of it. At most `limit`.
 *
 * @example
 * nearbyNames('add_emial', ['001_add_email.js', '002_drop_name.js']); // ['001_add_email.js']
 */
export function nearbyNames(input: string, candidates: readonly string[], limit = 3): string[] {
  const needle = stem(input);
  if (needle === '') return [];
  const scored: Array<{ name: string; score: number }> = [];
  for (const name of new Set(candidates)) {
    const hay = stem(name);
    if (hay === needle || (needle.length >= 3 && hay.includes(needle)) || (hay.length >= 3 && needle.includes(hay))) {
      scored.push({ name, score: 0 });
      continue;
    }
    // Names share their timestamp prefixes: what a typo may change is judged on the part after it.
    const tail = needle.replace(/^\d+_/, '');
    const edits = Math.min(distance(needle, hay), distance(tail, hay.replace(/^\d+_/, '')));
    if (edits <= Math.max(2, Math.floor(tail.length / 3))) scored.push({ name, score: edits });
  }
  return scored
    .sort((a, b) => a.score - b.score || a.name.localeCompare(b.name))
    .slice(0, limit)
    .map((s) => s.name);
}

/** ` Did you mean "a" or "b"?`, or the empty string when nothing is near. */
export function didYouMean(input: string, candidates: readonly string[]): string {
  const near = nearbyNames(input, candidates);
  if (near.length === 0) return '';
  const quoted = near.map((n) => JSON.stringify(n));
  return ` Did you mean ${quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`}?`;
}

function stem(name: string): string {
  return name.trim().toLowerCase().replace(/\.(c|m)?(j|t)s$/, '');
}
