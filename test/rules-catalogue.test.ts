/**
 * docs/rules.md is the one rule catalogue: every rule cited in code, tests or docs has a
 * section there, every rule has a test whose title cites it, every test titled after a
 * rule is listed under it, and what the catalogue names (files, functions, actions,
 * guards, states, test titles) exists. The audit is `tools/rules.ts`; the second block
 * feeds it small made-up repos to show each check fails when it should.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  auditRules,
  CATALOGUE,
  citations,
  definesName,
  parseCatalogue,
  type Repo,
  repoAt,
  testTitles,
} from '../tools/rules.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('the rule catalogue (docs/rules.md)', () => {
  const repo = repoAt(root);
  const audit = auditRules(repo);

  it('has one well-formed section for each of the twenty rules of the spec, the four of protocol v2, the seven of the durable outbox and the five cases of many server processes, in order', () => {
    expect(audit.malformed).toEqual([]);
    const { rules } = parseCatalogue(repo.read(CATALOGUE) ?? '');
    expect(rules.map((rule) => rule.id)).toEqual([
      ...Array.from({ length: 24 }, (_, i) => `R${i + 1}`),
      ...Array.from({ length: 7 }, (_, i) => `D${i + 1}`),
      ...Array.from({ length: 5 }, (_, i) => `C${i + 1}`),
    ]);
  });

  it('holds every rule that code, tests and docs cite', () => {
    expect(repo.files.length).toBeGreaterThan(50);
    expect(audit.unknownCitations).toEqual([]);
  });

  it('every rule has a test whose title cites it', () => {
    expect(audit.untestedRules).toEqual([]);
  });

  it('lists every test titled after a rule under that rule', () => {
    expect(audit.unlistedTests).toEqual([]);
  });

  it('names only files, functions and test titles that exist', () => {
    expect(audit.brokenReferences).toEqual([]);
  });
});

/** A rule id the made-up repos use, built so this file never cites it itself. */
const id = (n: number) => `R${n}`;

function fakeRepo(files: Record<string, string>): Repo {
  return { files: Object.keys(files), read: (path) => files[path] };
}

function catalogue(rules: Array<{ n: number; enforced?: string; tested?: string[] }>): string {
  return rules
    .map(({ n, enforced, tested }) =>
      [
        `## ${id(n)} Rule ${n}`,
        '',
        `What rule ${n} promises.`,
        '',
        '**Enforced by**',
        '',
        enforced ?? '- `machines/a.ts`: `keep` — it keeps the promise',
        '',
        '**Tested by**',
        '',
        ...(tested ?? [`- \`test/a.test.ts\`: \`${id(n)} holds\``]),
        '',
      ].join('\n'),
    )
    .join('\n');
}

const goodFiles = () => ({
  'docs/rules.md': catalogue([{ n: 1 }, { n: 2 }]),
  'machines/a.ts': `/** Keeps it (${id(1)}, ${id(2)}). */\nexport function keep() {}\n`,
  'test/a.test.ts': [
    `it('${id(1)} holds', () => {});`,
    `it.each([1, 2])(\n  '${id(2)} holds',\n  () => {},\n);`,
    `test('unrelated', () => {});`,
  ].join('\n'),
});

describe('the rule audit fails when it should', () => {
  it('passes a made-up repo that keeps every rule', () => {
    expect(auditRules(fakeRepo(goodFiles()))).toEqual({
      malformed: [],
      unknownCitations: [],
      untestedRules: [],
      unlistedTests: [],
      brokenReferences: [],
    });
  });

  it('names file:line for a citation of a rule the catalogue lacks', () => {
    const files = goodFiles();
    files['machines/a.ts'] += `// and ${id(21)}\n`;
    expect(auditRules(fakeRepo(files)).unknownCitations).toEqual([
      `machines/a.ts:3: ${id(21)} is not in docs/rules.md`,
    ]);
  });

  it('names a rule that no test title cites', () => {
    const files = goodFiles();
    files['docs/rules.md'] = catalogue([
      { n: 1 },
      { n: 2, tested: [`- \`test/a.test.ts\`: \`unrelated\``] },
    ]);
    files['test/a.test.ts'] = files['test/a.test.ts'].replace(`'${id(2)} holds'`, "'holds'");
    const audit = auditRules(fakeRepo(files));
    expect(audit.untestedRules).toEqual([`${id(2)} Rule 2: no test title cites ${id(2)}`]);
    expect(audit.brokenReferences).toEqual([]);
  });

  it('names a test titled after a rule but not listed under it', () => {
    const files = goodFiles();
    files['test/a.test.ts'] += `\nit('${id(1)} also holds', () => {});\n`;
    expect(auditRules(fakeRepo(files)).unlistedTests).toEqual([
      `test/a.test.ts:7: '${id(1)} also holds' is not under **Tested by** of ${id(1)}`,
    ]);
  });

  it('names a listed file, name or test title that does not exist', () => {
    const files = goodFiles();
    files['docs/rules.md'] = catalogue([
      { n: 1, enforced: '- `machines/gone.ts`: `keep`' },
      {
        n: 2,
        enforced: '- `machines/a.ts`: `keep`, `renamed`',
        tested: [`- \`test/a.test.ts\`: \`${id(2)} holds\``, '- `test/a.test.ts`: `no such test`'],
      },
    ]);
    expect(auditRules(fakeRepo(files)).brokenReferences).toEqual([
      `docs/rules.md:7: ${id(1)}: machines/gone.ts does not exist`,
      `docs/rules.md:19: ${id(2)}: machines/a.ts defines no \`renamed\``,
      `docs/rules.md:24: ${id(2)}: test/a.test.ts has no test titled 'no such test'`,
    ]);
  });

  it('names a section that breaks the shape', () => {
    const files = goodFiles();
    files['docs/rules.md'] = catalogue([{ n: 2 }]).replace('**Tested by**', '**Tests**');
    expect(auditRules(fakeRepo(files)).malformed).toEqual([
      `docs/rules.md:9: ${id(2)}: expected "- \`file\`: \`name\`, \`name\` — note"`,
      `docs/rules.md:1: ${id(2)} is out of order (R1, R2, … in turn, then D1, …, then C1, …)`,
      `docs/rules.md:1: ${id(2)} has no **Tested by** list`,
    ]);
  });
});

describe('the rule audit reads', () => {
  it('titles of it, test, it.each and modifiers, not other calls', () => {
    const source = [
      "it('plain', () => {});",
      // A modifier, written in parts so no checker mistakes this fixture for a skipped test.
      `test.${'skip'}("double \\"quoted\\"", () => {});`,
      "it.each([[1, f(2)]])('table %i', () => {});",
      "it.each([\n  [1, g(')')], // (\n])(\n  'table over lines',\n  () => {},\n);",
      `it(\`every path that ends in \${end}\`, async () => {});`,
      "/x/.test('not a title'); split('nor this'); it.each(broken",
      "test('after all that', () => {});",
    ].join('\n');
    expect(testTitles(source)).toEqual([
      { title: 'plain', line: 1 },
      { title: 'double "quoted"', line: 2 },
      { title: 'table %i', line: 3 },
      { title: 'table over lines', line: 7 },
      { title: `every path that ends in \${end}`, line: 10 },
      { title: 'after all that', line: 12 },
    ]);
  });

  it('citations as words only', () => {
    expect(citations(`${id(3)} and (${id(12)}).\nR2D2, XR4, ${id(5)}x`)).toEqual([
      { id: id(3), line: 1 },
      { id: id(12), line: 1 },
    ]);
  });

  it('definitions, not mentions', () => {
    const source = [
      'export function pump() {}',
      'const guards = { outboxEmpty: () => true };',
      'class Hub {\n  accept(message) {}\n}',
      '// mentions dropLink in passing',
    ].join('\n');
    for (const name of ['pump', 'outboxEmpty', 'Hub.accept', 'Hub', 'guards'])
      expect(definesName(source, name), name).toBe(true);
    for (const name of ['dropLink', 'Hub.reject', 'pum'])
      expect(definesName(source, name), name).toBe(false);
  });
});
