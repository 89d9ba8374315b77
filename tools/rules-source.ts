/**
 * What the rule audit reads in source and docs: the rule ids a text cites, the titles of
 * its tests (it, test, it.each and modifiers), and whether a file defines a name.
 */

/** A rule id as code, tests and docs cite it: R<n>, D<n> or C<n>. */
const CITATION = /\b[RDC]\d+\b/g;

export interface Citation {
  readonly id: string;
  readonly line: number;
}

/** Every `R<n>` in a text, with its line (1-based). */
export function citations(text: string): Citation[] {
  const found: Citation[] = [];
  text.split('\n').forEach((line, index) => {
    for (const match of line.matchAll(CITATION)) found.push({ id: match[0], line: index + 1 });
  });
  return found;
}

export interface TestTitle {
  readonly title: string;
  readonly line: number;
}

/**
 * The title of every `it(…)` / `test(…)` in a test file's source, including
 * `it.each(table)(…)` and modifiers such as `.skip`. A title is the string literal as
 * written (template literals raw, `${…}` and all), with simple escapes undone.
 */
export function testTitles(source: string): TestTitle[] {
  const head =
    /(?<![\w$.])(?:it|test)(?:\.(?:only|skip|todo|concurrent|sequential|fails))*(\.each)?\s*\(/g;
  const titles: TestTitle[] = [];
  for (const match of source.matchAll(head)) {
    let at = (match.index ?? 0) + match[0].length;
    if (match[1] !== undefined) {
      // `it.each(table)(title, …)`: past the table, to the second call.
      const end = closingParen(source, at);
      if (end < 0) continue;
      const call = /\s*\(/y;
      call.lastIndex = end;
      if (!call.test(source)) continue;
      at = call.lastIndex;
    }
    const literal = /\s*(['"`])((?:\\[\s\S]|(?!\1)[^\\])*)\1/y;
    literal.lastIndex = at;
    const found = literal.exec(source);
    if (found === null) continue;
    const title = (found[2] as string).replace(/\\([\s\S])/g, '$1');
    const line = source.slice(0, literal.lastIndex).split('\n').length;
    titles.push({ title, line });
  }
  return titles;
}

/**
 * The index just past the `)` that closes a call whose arguments start at `from`, or -1.
 * Brackets nest; strings and comments are skipped (a template's `${…}` is not parsed).
 */
function closingParen(source: string, from: number): number {
  let depth = 1;
  for (let i = from; i < source.length; i++) {
    const c = source[i];
    if (c === "'" || c === '"' || c === '`') {
      for (i++; i < source.length && source[i] !== c; i++) if (source[i] === '\\') i++;
    } else if (c === '/' && source[i + 1] === '/') {
      i = source.indexOf('\n', i);
      if (i < 0) return -1;
    } else if (c === '/' && source[i + 1] === '*') {
      i = source.indexOf('*/', i + 2);
      if (i < 0) return -1;
      i++;
    } else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) return c === ')' ? i + 1 : -1;
    }
  }
  return -1;
}

/** `name` as a word in `text`. */
export function citesAsWord(text: string, id: string): boolean {
  return new RegExp(`\\b${id}\\b`).test(text);
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Whether `source` defines `name`: a function, class, const, type or interface of that
 * name, or an object key, property, method or state (`name:` / `name(`). `Owner.member`
 * needs both. Text that merely mentions the name elsewhere does not count.
 */
export function definesName(source: string, name: string): boolean {
  return name.split('.').every((part) => {
    const word = escapeRegExp(part);
    const declared = new RegExp(
      `\\b(?:function\\*?|class|const|let|var|type|interface|enum)\\s+${word}\\b`,
    );
    const member = new RegExp(
      `(?:^|[\\s{,(])(?:(?:static|private|protected|public|readonly|async|get|set)\\s+)*${word}\\s*(?:\\??:|\\(|<)`,
      'm',
    );
    return declared.test(source) || member.test(source);
  });
}

/** The files the audit reads: `files` are scanned for citations and tests. */
