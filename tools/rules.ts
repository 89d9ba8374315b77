/**
 * The rule catalogue (docs/rules.md) read as data, and the audit that keeps it honest:
 * every rule cited in code, tests or docs is in the catalogue; every rule has a test whose
 * title cites it; every test titled after a rule is listed under it; and every file, name
 * and test title the catalogue lists exists. Pure over a `Repo` (a list of files and a
 * way to read one), so test/rules-catalogue.test.ts can also feed it made-up repos and
 * see each check fail.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { citations, citesAsWord, definesName, type TestTitle, testTitles } from './rules-source.js';

export type { Citation, TestTitle } from './rules-source.js';
export { citations, citesAsWord, definesName, testTitles };

export const CATALOGUE = 'docs/rules.md';

/** Where citations are looked for: code in these folders, plus the Markdown below. */
export const CODE_DIRS = [
  'src',
  'machines',
  'adapters',
  'test',
  'sim',
  'demo',
  'bench',
  'tools',
  'examples',
] as const;
export const DOC_DIRS = ['docs'] as const;
export const DOC_FILES = ['README.md'] as const;

/**
 * A rule id as code, tests and docs cite it, as a word: `R` and a number (holdfast.md,
 * sessions.md) or `D` and a number (durable.md).
 */
/** The families of ids, in the order the catalogue lists them. */
const FAMILIES = 'RDC';
const HEADING = /^## ([RDC]\d+) (\S.*)$/;
const ENFORCED = '**Enforced by**';
const TESTED = '**Tested by**';
/** ``- `file`: `name`, `name` — note`` (the note is optional). */
const ENFORCED_ITEM = /^- `([^`]+)`: ((?:`[^`]+`)(?:, `[^`]+`)*)(?: — \S.*)?$/;
/** ``- `test file`: `exact test title` — note`` (the note is optional). */
const TESTED_ITEM = /^- `([^`]+)`: `([^`]+)`(?: — \S.*)?$/;
/** A name the code defines: an identifier, or `Owner.member` for a class member. */
const NAME = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$/;

export interface Enforcer {
  readonly file: string;
  readonly names: readonly string[];
  readonly line: number;
}

export interface RuleTest {
  readonly file: string;
  readonly title: string;
  readonly line: number;
}

export interface Rule {
  readonly id: string;
  readonly title: string;
  readonly line: number;
  /** The rule in our words: the lines between the heading and **Enforced by**. */
  readonly text: string;
  readonly enforcedBy: readonly Enforcer[];
  readonly testedBy: readonly RuleTest[];
}

export interface Catalogue {
  readonly rules: readonly Rule[];
  /** Where the page breaks its own shape, as `docs/rules.md:line: what`. */
  readonly problems: readonly string[];
}

interface RuleDraft {
  id: string;
  title: string;
  line: number;
  text: string[];
  enforcedBy: Enforcer[];
  testedBy: RuleTest[];
  section: 'text' | 'enforced' | 'tested';
}

/** Read the catalogue: one `## R<n> <title>` section per rule. */
export function parseCatalogue(markdown: string, path = CATALOGUE): Catalogue {
  const rules: RuleDraft[] = [];
  const problems: string[] = [];
  let rule: RuleDraft | undefined;
  markdown.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    const at = `${path}:${index + 1}`;
    const heading = HEADING.exec(line);
    if (heading) {
      rule = {
        id: heading[1] as string,
        title: heading[2] as string,
        line: index + 1,
        text: [],
        enforcedBy: [],
        testedBy: [],
        section: 'text',
      };
      rules.push(rule);
      return;
    }
    if (line.startsWith('#')) {
      if (/^## [RDC]\d/.test(line))
        problems.push(`${at}: a rule heading must be "## R<n> <title>" (or D<n>, C<n>)`);
      rule = undefined;
      return;
    }
    if (rule === undefined) return;
    if (line === ENFORCED || line === TESTED) {
      const next = line === ENFORCED ? 'enforced' : 'tested';
      const after = next === 'enforced' ? 'text' : 'enforced';
      if (rule.section !== after) {
        problems.push(`${at}: ${rule.id} needs its text, then ${ENFORCED}, then ${TESTED}`);
      }
      rule.section = next;
      return;
    }
    if (rule.section === 'text') {
      if (line !== '') rule.text.push(line);
      return;
    }
    if (line === '') return;
    if (rule.section === 'enforced') {
      const item = ENFORCED_ITEM.exec(line);
      if (!item) {
        problems.push(`${at}: ${rule.id}: expected "- \`file\`: \`name\`, \`name\` — note"`);
        return;
      }
      const names = [...(item[2] as string).matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
      rule.enforcedBy.push({ file: item[1] as string, names, line: index + 1 });
      return;
    }
    const item = TESTED_ITEM.exec(line);
    if (!item) {
      problems.push(`${at}: ${rule.id}: expected "- \`test file\`: \`exact test title\`"`);
      return;
    }
    rule.testedBy.push({ file: item[1] as string, title: item[2] as string, line: index + 1 });
  });

  const seen = new Set<string>();
  // The R rules in turn, then the D rules, then the C cases, each family from 1.
  const counts = new Map<string, number>();
  let lastFamily = 0;
  rules.forEach((r) => {
    const at = `${path}:${r.line}`;
    if (seen.has(r.id)) problems.push(`${at}: ${r.id} has a second section`);
    seen.add(r.id);
    const family = r.id[0] as string;
    counts.set(family, (counts.get(family) ?? 0) + 1);
    const order = FAMILIES.indexOf(family);
    if (r.id !== `${family}${counts.get(family)}` || order < lastFamily)
      problems.push(`${at}: ${r.id} is out of order (R1, R2, … in turn, then D1, …, then C1, …)`);
    lastFamily = Math.max(lastFamily, order);
    if (r.text.length === 0) problems.push(`${at}: ${r.id} does not say what the rule is`);
    if (r.enforcedBy.length === 0) problems.push(`${at}: ${r.id} has no ${ENFORCED} list`);
    if (r.testedBy.length === 0) problems.push(`${at}: ${r.id} has no ${TESTED} list`);
  });
  if (rules.length === 0) problems.push(`${path}: no "## R<n> <title>" section`);
  return {
    rules: rules.map(({ section: _, text, ...r }) => ({ ...r, text: text.join(' ') })),
    problems,
  };
}

export interface Repo {
  readonly files: readonly string[];
  read(path: string): string | undefined;
}

export interface Audit {
  /** The catalogue breaks its own shape. */
  readonly malformed: readonly string[];
  /** `file:line: R<n>` cited, but no such rule in the catalogue. */
  readonly unknownCitations: readonly string[];
  /** A rule no test title cites. */
  readonly untestedRules: readonly string[];
  /** A test titled after a rule, not listed under that rule. */
  readonly unlistedTests: readonly string[];
  /** A file, name or test title the catalogue lists that does not exist. */
  readonly brokenReferences: readonly string[];
}

export const isTestFile = (path: string) => /^test\/.*\.test\.tsx?$/.test(path);

export function auditRules(repo: Repo, path = CATALOGUE): Audit {
  const markdown = repo.read(path);
  if (markdown === undefined) {
    return {
      malformed: [`${path} is missing`],
      unknownCitations: [],
      untestedRules: [],
      unlistedTests: [],
      brokenReferences: [],
    };
  }
  const { rules, problems } = parseCatalogue(markdown, path);
  const byId = new Map(rules.map((rule) => [rule.id, rule]));

  const unknownCitations: string[] = [];
  const files = repo.files.includes(path) ? repo.files : [...repo.files, path];
  for (const file of files) {
    for (const { id, line } of citations(repo.read(file) ?? '')) {
      if (!byId.has(id)) unknownCitations.push(`${file}:${line}: ${id} is not in ${path}`);
    }
  }

  const titles = new Map<string, TestTitle[]>();
  for (const file of files.filter(isTestFile)) titles.set(file, testTitles(repo.read(file) ?? ''));

  const untestedRules: string[] = [];
  for (const rule of rules) {
    const cited = [...titles.values()].some((list) =>
      list.some(({ title }) => citesAsWord(title, rule.id)),
    );
    if (!cited) untestedRules.push(`${rule.id} ${rule.title}: no test title cites ${rule.id}`);
  }

  const unlistedTests: string[] = [];
  for (const [file, list] of titles) {
    for (const { title, line } of list) {
      for (const { id } of citations(title)) {
        const rule = byId.get(id);
        if (rule === undefined) continue;
        if (!rule.testedBy.some((t) => t.file === file && t.title === title)) {
          unlistedTests.push(`${file}:${line}: '${title}' is not under ${TESTED} of ${id}`);
        }
      }
    }
  }

  const brokenReferences: string[] = [];
  for (const rule of rules) {
    for (const { file, names, line } of rule.enforcedBy) {
      const at = `${path}:${line}: ${rule.id}`;
      const source = repo.read(file);
      if (source === undefined) {
        brokenReferences.push(`${at}: ${file} does not exist`);
        continue;
      }
      for (const name of names) {
        if (!NAME.test(name)) brokenReferences.push(`${at}: \`${name}\` is not a name`);
        else if (!definesName(source, name))
          brokenReferences.push(`${at}: ${file} defines no \`${name}\``);
      }
    }
    for (const { file, title, line } of rule.testedBy) {
      const at = `${path}:${line}: ${rule.id}`;
      if (!isTestFile(file) || repo.read(file) === undefined) {
        brokenReferences.push(`${at}: ${file} is not a test file`);
        continue;
      }
      const list = titles.get(file) ?? testTitles(repo.read(file) ?? '');
      if (!list.some((t) => t.title === title)) {
        brokenReferences.push(`${at}: ${file} has no test titled '${title}'`);
      }
    }
  }

  return { malformed: problems, unknownCitations, untestedRules, unlistedTests, brokenReferences };
}

/** Every file under `dir` (relative to `root`), skipping build output and dependencies. */
function walk(root: string, dir: string, out: string[]): void {
  if (!existsSync(join(root, dir))) return;
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') walk(root, path, out);
    } else if (entry.isFile()) out.push(path);
  }
}

/** This repository as the audit sees it: code, tests and docs, read from disk. */
export function repoAt(root: string): Repo {
  const found: string[] = [];
  for (const dir of CODE_DIRS) walk(root, dir, found);
  const code = found.filter((f) => /\.tsx?$/.test(f));
  const docs: string[] = [];
  for (const dir of DOC_DIRS) walk(root, dir, docs);
  const files = [
    ...code,
    ...docs.filter((f) => f.endsWith('.md')),
    ...DOC_FILES.filter((f) => existsSync(join(root, f))),
  ].sort();
  const cache = new Map<string, string | undefined>();
  return {
    files,
    read(path) {
      if (!cache.has(path)) {
        const full = join(root, path);
        const isFile = existsSync(full) && statSync(full).isFile();
        cache.set(path, isFile ? readFileSync(full, 'utf8') : undefined);
      }
      return cache.get(path);
    },
  };
}
