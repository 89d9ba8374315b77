/**
 * The Mermaid `stateDiagram-v2` of the connection machine, generated from its definition
 * (states, events, guards), so the picture in docs/machine.md cannot drift from the code.
 * `npm run diagram` writes it between the markers, in docs/machine.md also the transition
 * tables (`machine-doc.ts`); test/diagram.test.ts fails on a diff.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { AnyStateNode, AnyTransitionDefinition } from 'xstate';
import { connectionMachine } from '../machines/connection.machine.js';
import { between, eventName, guardName, transitionsOf, withTables } from './machine-doc.js';

export const START = '<!-- diagram:start (npm run diagram writes this block) -->';
export const END = '<!-- diagram:end -->';

const id = (node: AnyStateNode) => node.path.join('_');

function label(t: AnyTransitionDefinition): string {
  const event = t.eventType ? eventName(t) : '';
  const guard = guardName(t);
  return [event, guard && `[${guard}]`].filter(Boolean).join(' ');
}

export function machineDiagram(): string {
  const root = connectionMachine.root;
  const lines = ['```mermaid', 'stateDiagram-v2'];
  const declare = (node: AnyStateNode, indent: string) => {
    const children = Object.values(node.states) as AnyStateNode[];
    if (children.length === 0) {
      lines.push(`${indent}state "${node.key}" as ${id(node)}`);
      return;
    }
    lines.push(`${indent}state "${node.key}" as ${id(node)} {`);
    const initial = node.initial?.target?.[0] as AnyStateNode | undefined;
    if (initial) lines.push(`${indent}  [*] --> ${id(initial)}`);
    for (const child of children) declare(child, `${indent}  `);
    lines.push(`${indent}}`);
  };
  const top = Object.values(root.states) as AnyStateNode[];
  const initial = root.initial?.target?.[0] as AnyStateNode | undefined;
  if (initial) lines.push(`  [*] --> ${id(initial)}`);
  for (const node of top) declare(node, '  ');

  const edges = new Set<string>();
  const edge = (from: AnyStateNode, t: AnyTransitionDefinition) => {
    for (const target of (t.target ?? []) as AnyStateNode[]) {
      const text = label(t);
      edges.add(`  ${id(from)} --> ${id(target)}${text ? ` : ${text}` : ''}`);
    }
  };
  // Root transitions apply in every top-level state that does not handle the event itself.
  for (const t of transitionsOf(root)) {
    for (const node of top) {
      if (node.type === 'final' || node.transitions.has(t.eventType)) continue;
      edge(node, t);
    }
  }
  const visit = (node: AnyStateNode) => {
    for (const t of transitionsOf(node)) edge(node, t);
    for (const child of Object.values(node.states) as AnyStateNode[]) visit(child);
  };
  for (const node of top) visit(node);
  lines.push(...[...edges].sort());
  for (const node of top) if (node.type === 'final') lines.push(`  ${id(node)} --> [*]`);
  lines.push('```');
  return lines.join('\n');
}

export function withDiagram(markdown: string, file = 'docs/machine.md'): string {
  return between(markdown, { start: START, end: END, file }, machineDiagram());
}

/** The files that carry the diagram between the markers. */
export const DIAGRAM_FILES = ['docs/machine.md', 'README.md'] as const;
/** The file that also carries the transition tables. */
export const TABLES_FILE = 'docs/machine.md';

/** What `npm run diagram` makes of the file `name` (one of `DIAGRAM_FILES`). */
export function generated(name: (typeof DIAGRAM_FILES)[number], markdown: string): string {
  const withPicture = withDiagram(markdown, name);
  return name === TABLES_FILE ? withTables(withPicture) : withPicture;
}

if (process.argv[1]?.endsWith('diagram.ts')) {
  for (const name of DIAGRAM_FILES) {
    const file = new URL(`../${name}`, import.meta.url);
    writeFileSync(file, generated(name, readFileSync(file, 'utf8')));
    const what = name === TABLES_FILE ? 'diagram and transition tables' : 'diagram';
    console.log(`${name}: ${what} written from the machine definition`);
  }
}
