/**
 * Every ```ts block of README.md works as written. A self-contained block runs to the end
 * (and must exit on its own); a fragment, which leans on names the prose assumes (`conn`,
 * `token()`, …), is type-checked with those names declared. Both kinds are type-checked,
 * all in one `tsc` run. `holdfast/…` imports point at this repo's source entry files.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('..', import.meta.url));

const ENTRY_FILES: Record<string, string> = {
  holdfast: 'src/index.ts',
  'holdfast/redis': 'src/redis/index.ts',
  'holdfast/memory': 'adapters/memory.ts',
  'holdfast/websocket': 'adapters/websocket.ts',
  'holdfast/sse': 'adapters/sse.ts',
  'holdfast/server': 'src/server/index.ts',
  'holdfast/browser': 'src/browser.ts',
  'holdfast/node': 'src/node.ts',
};

/**
 * What a fragment leaves to the reader, by the heading it sits under: declared here so the
 * fragment type-checks. A block under any other heading must run on its own.
 */
const FRAGMENT_PRELUDES: Record<string, string[]> = {
  'Many server processes': ['declare function save(message: unknown): Promise<void>;'],
  Transports: ['declare function token(): Promise<string>;'],
  'In the browser': [
    "import type { Connection } from 'holdfast';",
    'declare const conn: Connection;',
  ],
  'Reference server': ['declare function save(message: unknown): void;'],
  'Durable outbox': [
    'declare function showSent(data: unknown): void;',
    'declare function showFailed(error: unknown): void;',
  ],
  API: [
    "import { type ConnectionOptions, createConnection, type Transport } from 'holdfast';",
    'declare const transport: Transport;',
    "declare const options: Omit<ConnectionOptions, 'transport'>;",
    'declare const data: unknown;',
    'declare const id: string, retry: boolean, signal: AbortSignal;',
    'declare const stream: string, fromSeq: number, epoch: string;',
    'declare const listener: () => void;',
  ],
};

/** What a self-contained block prints when it did its job, by heading. */
const EXPECTED_OUTPUT: Record<string, RegExp> = {
  // The echo server sent the message back on the watched stream.
  'Example (in-memory transport)': /got \{ text: 'hello' \} seq 1/,
};

interface Block {
  heading: string;
  /** The README line of the opening fence. */
  line: number;
  code: string;
}

function readmeBlocks(): Block[] {
  const lines = readFileSync(join(repo, 'README.md'), 'utf8').split('\n');
  const blocks: Block[] = [];
  let heading = '';
  let open: Block | undefined;
  lines.forEach((text, i) => {
    if (open) {
      if (text.trim() === '```') {
        blocks.push(open);
        open = undefined;
      } else open.code += `${text}\n`;
    } else if (/^#{1,6} /.test(text)) heading = text.replace(/^#+ /, '').trim();
    else if (/^```(ts|typescript)\s*$/.test(text.trim())) open = { heading, line: i + 1, code: '' };
  });
  if (open) throw new Error(`README.md:${open.line}: a \`\`\`ts block is never closed`);
  return blocks;
}

const PACKAGE_IMPORT = /(from\s+)(['"])(holdfast(?:\/[\w-]+)?)\2/g;

/** `from 'holdfast/x'` → the absolute path of its entry file; an unknown name is left to fail. */
function toRepoImports(code: string): string {
  return code.replace(PACKAGE_IMPORT, (match, from, quote, name) => {
    const entry = ENTRY_FILES[name];
    return entry ? `${from}${quote}${join(repo, entry)}${quote}` : match;
  });
}

const blocks = readmeBlocks();
const isFragment = (block: Block) => Object.hasOwn(FRAGMENT_PRELUDES, block.heading);
// Under node_modules (ignored by git, Biome and tsc), so a block's other imports (`ws`,
// `xstate`, …) resolve to the repo's packages as they would in an app.
const cache = join(repo, 'node_modules/.cache');
mkdirSync(cache, { recursive: true });
const dir = mkdtempSync(join(cache, 'holdfast-readme-'));
// Named after the README line, so a tsc error or a failed run points at the block.
const fileOf = (block: Block) => join(dir, `readme-line-${block.line}.ts`);

/**
 * The prelude takes exactly the first line, so line L of the file is README line
 * `block.line + L - 1`, the fence being line 1.
 */
function sourceOf(block: Block): string {
  const prelude = (FRAGMENT_PRELUDES[block.heading] ?? []).join(' ');
  // `export {}` makes every file a module: top-level await, and no names shared between files.
  return toRepoImports(`${prelude}\n${block.code}export {};\n`);
}

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

function run(
  command: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; signal: string | null; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      { cwd: repo, timeout: timeoutMs, maxBuffer: 10 * 1024 * 1024 },
      (error, stdout, stderr) => {
        children.delete(child);
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, signal: error?.signal ?? null, output: `${stdout}${stderr}` });
      },
    );
    children.add(child);
  });
}

beforeAll(() => {
  // A package.json of its own, so Node and tsx read the blocks as ES modules.
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const block of blocks) writeFileSync(fileOf(block), sourceOf(block));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: join(repo, 'tsconfig.json'),
      compilerOptions: {
        allowImportingTsExtensions: true,
        typeRoots: [join(repo, 'node_modules/@types')],
      },
      include: [],
      files: blocks.map(fileOf),
    }),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README.md', () => {
  it('has ```ts blocks that import only entries of the package, and a prelude or an expected output only for blocks that exist', () => {
    expect(blocks.length).toBeGreaterThan(0);
    const imported = blocks.flatMap((b) => [...b.code.matchAll(PACKAGE_IMPORT)].map((m) => m[3]));
    expect(imported.filter((name) => !(name && name in ENTRY_FILES))).toEqual([]);
    const headings = new Set(blocks.map((b) => b.heading));
    const runnable = new Set(blocks.filter((b) => !isFragment(b)).map((b) => b.heading));
    expect(Object.keys(FRAGMENT_PRELUDES).filter((h) => !headings.has(h))).toEqual([]);
    expect(Object.keys(EXPECTED_OUTPUT).filter((h) => !runnable.has(h))).toEqual([]);
  });

  it('type-checks every ```ts block, fragments with their prelude', async () => {
    const tsc = join(repo, 'node_modules/typescript/bin/tsc');
    const { code, output } = await run(
      process.execPath,
      [tsc, '--noEmit', '-p', join(dir, 'tsconfig.json')],
      30_000,
    );
    // Errors inside the repo's own files are `npm run typecheck`'s to report; here only
    // those in the blocks count, and those that name no file (a broken config).
    const errors = output
      .split('\n')
      .filter(
        (line) => /readme-line-\d+\.ts\(\d+,\d+\): error TS/.test(line) || /^error TS/.test(line),
      )
      .map((line) =>
        line.replace(
          /^.*readme-line-(\d+)\.ts\((\d+),(\d+)\)/,
          (_m, fence, row, column) => `README.md:${Number(fence) + Number(row) - 1}:${column}`,
        ),
      );
    expect(errors, output).toEqual([]);
    // tsc failed on the repo's own files only: the blocks are fine, but say so.
    if (code !== 0) console.warn(`tsc found errors outside the README blocks:\n${output}`);
  }, 40_000);

  for (const block of blocks.filter((b) => !isFragment(b))) {
    it(`runs the block under "${block.heading}" (README.md:${block.line}) to its end`, async () => {
      const { code, signal, output } = await run(
        process.execPath,
        ['--import', 'tsx', fileOf(block)],
        10_000,
      );
      expect({ code, signal }, `it should exit 0 on its own; it printed:\n${output}`).toEqual({
        code: 0,
        signal: null,
      });
      const expected = EXPECTED_OUTPUT[block.heading];
      if (expected) expect(output).toMatch(expected);
    }, 15_000);
  }
});
