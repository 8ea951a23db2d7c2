/**
 * Every fenced block of README.md is exercised here, by its tag:
 * - `js knexfile`: evaluated as a CommonJS knexfile; its `zeroDowntime` option must parse;
 * - `ts`: typechecked against the built package (`npm test` builds it first);
 * - `ts file=PATH`: must equal that file, which the example tests run;
 * - `sh` and the `run:` lines of `yaml`: npm scripts must exist, knex-zd commands and flags must parse;
 * - `text`: diagrams, not code.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import ts from 'typescript';
import { COMMANDS } from '../../../src/cli/main.js';
import { parseFlags } from '../../../src/cli/flags.js';
import { parseSettings } from '../../../src/config.js';
import { ROOT } from '../../helpers/project.js';

interface Block {
  readonly tag: string;
  readonly info: string;
  readonly code: string;
  readonly line: number;
}

async function readmeBlocks(): Promise<Block[]> {
  const text = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const blocks: Block[] = [];
  const fence = /^```(\S*)[ \t]*(.*)\n([\s\S]*?)^```[ \t]*$/gm;
  for (let match = fence.exec(text); match; match = fence.exec(text)) {
    blocks.push({ tag: match[1] ?? '', info: (match[2] ?? '').trim(), code: match[3] ?? '', line: text.slice(0, match.index).split('\n').length });
  }
  return blocks;
}

const blocks = await readmeBlocks();
const scripts = (JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

/** Checks one shell command line; returns a problem, or null when it is fine. */
function checkCommand(line: string): string | null {
  for (const part of line.split('&&').map((p) => p.trim()).filter(Boolean)) {
    const words = part.replace(/\s+#.*$/, '').split(/\s+/);
    if (words[0] === 'npm') {
      if (words[1] === 'run') {
        if (!words[2] || !(words[2] in scripts)) return `npm run ${words[2]}: no such script in package.json`;
      } else if (!['install', 'ci', 'test'].includes(words[1] ?? '')) {
        return `npm ${words[1]}: not a command the README should need`;
      }
      continue;
    }
    const args = words[0] === 'npx' ? words.slice(1) : words;
    if (args[0] !== 'knex-zd') return `${part}: neither npm nor knex-zd`;
    const command = COMMANDS.find((c) => c.name === args[1] || c.aliases?.includes(args[1] ?? ''));
    if (!command) return `knex-zd ${args[1]}: not a knex-zd command`;
    try {
      parseFlags(command.name, args.slice(2), command.flags);
    } catch (error) {
      return (error as Error).message;
    }
  }
  return null;
}

test('every fenced block has a tag this test knows', (t) => {
  t.true(blocks.length > 5);
  for (const block of blocks) {
    const known = ['sh', 'text', 'yaml'].includes(block.tag) || (block.tag === 'js' && block.info === 'knexfile') || (block.tag === 'ts' && (block.info === '' || block.info.startsWith('file=')));
    t.true(known, `README.md:${block.line}: \`\`\`${block.tag} ${block.info}`);
  }
});

test('the two commands come first', (t) => {
  const [first, second] = blocks;
  t.is(first?.code.trim(), 'npm ci && npm run demo');
  t.is(second?.code.trim(), 'npm test');
});

test('sh blocks and yaml run: lines name existing scripts, commands and flags', (t) => {
  let checked = 0;
  for (const block of blocks) {
    let lines: string[] = [];
    // A comment line is a step done by hand (roll the code back…), not a command.
    if (block.tag === 'sh') lines = block.code.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    if (block.tag === 'yaml') {
      lines = block.code
        .split('\n')
        .map((l) => /^\s*-\s*run:\s*(.+)$/.exec(l)?.[1]?.trim())
        .filter((l): l is string => l !== undefined && /^(npm|npx)\b/.test(l));
    }
    for (const line of lines) {
      t.is(checkCommand(line), null, `README.md:${block.line}: ${line}`);
      checked += 1;
    }
  }
  t.true(checked >= 15, `only ${checked} command lines checked`);
});

test('checkCommand catches what it should', (t) => {
  t.regex(checkCommand('npx knex-zd migrate:latest --pre-deply') ?? '', /pre-deply/);
  t.regex(checkCommand('npx knex-zd migrate:frobnicate') ?? '', /not a knex-zd command/);
  t.regex(checkCommand('npm run nothing') ?? '', /no such script/);
});

test('js knexfile blocks evaluate, and their zeroDowntime option parses', (t) => {
  const knexfiles = blocks.filter((b) => b.tag === 'js' && b.info === 'knexfile');
  t.true(knexfiles.length > 0);
  for (const block of knexfiles) {
    const module = { exports: {} as Record<string, unknown> };
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    new Function('module', 'exports', 'process', block.code)(module, module.exports, {
      env: { DATABASE_URL: 'postgres://localhost/x', DIRECT_DATABASE_URL: 'postgres://localhost:5433/x' },
    });
    if (!('client' in module.exports)) {
      // A knexfile of environments: each one is a knex config whose option parses.
      for (const [env, config] of Object.entries(module.exports as Record<string, { client?: unknown; zeroDowntime?: unknown }>)) {
        t.is(config.client, 'pg', `README.md:${block.line} (${env})`);
        parseSettings(config.zeroDowntime);
      }
      continue;
    }
    t.is(module.exports.client, 'pg');
    const settings = parseSettings(module.exports.zeroDowntime);
    t.is(settings.timeouts.lock, 2_000, `README.md:${block.line}`);
    t.is(settings.quorum.backend, 'redis');
  }
});

test('ts file= blocks are the example files, verbatim', async (t) => {
  const included = blocks.filter((b) => b.tag === 'ts' && b.info.startsWith('file='));
  t.true(included.length > 0);
  for (const block of included) {
    const file = block.info.slice('file='.length);
    t.is(block.code, await readFile(path.join(ROOT, file), 'utf8'), `README.md:${block.line} differs from ${file}`);
  }
});

test('ts blocks typecheck against the package', async (t) => {
  const samples = blocks.filter((b) => b.tag === 'ts' && b.info === '');
  t.true(samples.length > 0);
  // Inside the repository (.tmp/ is ignored), so that 'knex-zero-downtime' resolves to this package's build.
  await mkdir(path.join(ROOT, '.tmp'), { recursive: true });
  const dir = await mkdtemp(path.join(ROOT, '.tmp', 'readme-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const files: string[] = [];
  for (const [index, block] of samples.entries()) {
    const file = path.join(dir, `sample-${index}-line-${block.line}.ts`);
    await writeFile(file, block.code);
    files.push(file);
  }
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    esModuleInterop: true,
    types: ['node'],
    typeRoots: [path.join(ROOT, 'node_modules/@types')],
  });
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  t.deepEqual(diagnostics, []);
});
