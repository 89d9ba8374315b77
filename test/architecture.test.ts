/**
 * Imports flow one way: src/ → machines/ → adapters/ (docs/architecture.md). Biome's
 * noRestrictedImports checks the usual forms as they are typed; this test reads every
 * module specifier of the two lower floors — static, `export … from`, dynamic and type
 * `import()`, `require()` — resolves it, and names each one that reaches up.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const SPECIFIER =
  /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

/** What each lower floor may not reach. */
const FORBIDDEN: Record<string, { floors: string[]; packages: RegExp }> = {
  adapters: { floors: ['src', 'machines'], packages: /^(xstate|holdfast)(\/|$)/ },
  machines: { floors: ['src'], packages: /^holdfast(\/|$)/ },
};

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

/** Every import of `file` that reaches a floor or package it may not, as `file: specifier`. */
function violations(file: string, text: string): string[] {
  const floor = file.split(sep)[0] ?? '';
  const rule = FORBIDDEN[floor];
  if (rule === undefined) return [];
  const found: string[] = [];
  for (const [, specifier = ''] of text.matchAll(SPECIFIER)) {
    if (specifier.startsWith('.')) {
      const target = relative(root, resolve(root, dirname(file), specifier));
      if (rule.floors.includes(target.split(sep)[0] ?? '')) found.push(`${file}: ${specifier}`);
    } else if (rule.packages.test(specifier)) found.push(`${file}: ${specifier}`);
  }
  return found;
}

describe('architecture', () => {
  it('no file in adapters/ imports src/, machines/ or xstate; no file in machines/ imports src/', () => {
    const files = [...sources('adapters'), ...sources('machines')];
    expect(files.length).toBeGreaterThan(10);
    const found = files.flatMap((file) => violations(file, readFileSync(join(root, file), 'utf8')));
    expect(found).toEqual([]);
  });

  it('catches every form of import that reaches up', () => {
    const text = [
      "import { a } from '../src';",
      "export * from '../machines/errors.js';",
      "type T = import('../src/types.js').ConnectionState;",
      "const m = await import('../src/index.js');",
      "const r = require('../machines/options.js');",
      "import { setup } from 'xstate';",
      "import { createConnection } from 'holdfast';",
      "import './side-effect.js';",
      "import { ok } from './transport.js';",
    ].join('\n');
    expect(violations(join('adapters', 'probe.ts'), text)).toEqual([
      `${join('adapters', 'probe.ts')}: ../src`,
      `${join('adapters', 'probe.ts')}: ../machines/errors.js`,
      `${join('adapters', 'probe.ts')}: ../src/types.js`,
      `${join('adapters', 'probe.ts')}: ../src/index.js`,
      `${join('adapters', 'probe.ts')}: ../machines/options.js`,
      `${join('adapters', 'probe.ts')}: xstate`,
      `${join('adapters', 'probe.ts')}: holdfast`,
    ]);
    expect(violations(join('machines', 'probe.ts'), text)).toEqual([
      `${join('machines', 'probe.ts')}: ../src`,
      `${join('machines', 'probe.ts')}: ../src/types.js`,
      `${join('machines', 'probe.ts')}: ../src/index.js`,
      `${join('machines', 'probe.ts')}: holdfast`,
    ]);
  });
});
