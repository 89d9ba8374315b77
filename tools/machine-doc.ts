/**
 * The transition tables of docs/machine.md, generated from the machine definition: one
 * table per source state (the root first, then every state node in document order), each
 * transition read from the machine (`on`, `after`, `always`), its "does / why" from the
 * hand-written `TRANSITION_PROSE`. A transition without prose, or prose that matches no
 * transition, throws naming its key, so a change to the machine forces one to the doc.
 * `npm run diagram` writes the tables between the markers; test/diagram.test.ts fails on
 * a diff.
 */
import type { AnyStateNode, AnyTransitionDefinition } from 'xstate';
import { connectionMachine } from '../machines/connection.machine.js';
import { TRANSITION_PROSE } from './machine-prose.js';

export const TABLES_START = '<!-- transitions:start (npm run diagram writes this block) -->';
export const TABLES_END = '<!-- transitions:end -->';

/** A state's path with dots (`reconnecting.opening`), `(root)` for the root. */
export const statePath = (node: AnyStateNode): string => node.path.join('.') || '(root)';

/** The event as written in the machine: `link.open`, `after backoff`, or `always`. */
export function eventName(t: AnyTransitionDefinition): string {
  const type = t.eventType;
  if (!type) return 'always';
  return type.startsWith('xstate.after.') ? `after ${type.split('.')[2]}` : type;
}

/** The named guard of a transition, or '' for none. */
export function guardName(t: AnyTransitionDefinition): string {
  const { guard } = t;
  if (guard === undefined) return '';
  if (typeof guard === 'string') return guard;
  return (guard as { type?: string }).type ?? 'guard';
}

function actionNames(t: AnyTransitionDefinition): string[] {
  return (t.actions as unknown[]).map((action) =>
    typeof action === 'string'
      ? action
      : ((action as { type?: string }).type ?? (action as { name?: string }).name ?? 'action'),
  );
}

/** Every transition of a node: `always` (checked first), then its events, delayed ones too. */
export function transitionsOf(node: AnyStateNode): AnyTransitionDefinition[] {
  return [...(node.always ?? []), ...[...node.transitions.values()].flat()];
}

/** The root, then every state node in document order. */
export function statesInOrder(node: AnyStateNode = connectionMachine.root): AnyStateNode[] {
  return [node, ...(Object.values(node.states) as AnyStateNode[]).flatMap((n) => statesInOrder(n))];
}

const isWithin = (node: AnyStateNode, ancestor: AnyStateNode): boolean =>
  ancestor.path.every((key, i) => node.path[i] === key);

/** The key of a transition in `TRANSITION_PROSE`: `<state path>|<event>|<guard>`. */
export const proseKey = (source: AnyStateNode, t: AnyTransitionDefinition): string =>
  `${statePath(source)}|${eventName(t)}|${guardName(t)}`;

function goesTo(source: AnyStateNode, t: AnyTransitionDefinition): string {
  const targets = (t.target ?? []) as AnyStateNode[];
  if (targets.length === 0) return '(stays)';
  return targets
    .map((target) => {
      // A state that is active when the transition is taken is left and entered again
      // when it is the source's ancestor, or the source itself with `reenter`.
      const again = target === source ? t.reenter : isWithin(source, target);
      return `${statePath(target)}${again ? ' (re-entered)' : ''}`;
    })
    .join(', ');
}

const code = (text: string) => `\`${text}\``;
const row = (cells: string[]) => `|${cells.map((cell) => (cell ? ` ${cell} ` : ' ')).join('|')}|`;

function eventCell(t: AnyTransitionDefinition): string {
  const event = eventName(t);
  if (event === 'always') return '(always)';
  return event.startsWith('after ') ? `after ${code(event.slice(6))}` : code(event);
}

/**
 * The markdown tables, from `prose` (by default `TRANSITION_PROSE`). Throws when a
 * transition has no prose, when two transitions share a key, and when prose has a key
 * that matches no transition.
 */
export function transitionTables(
  prose: Readonly<Record<string, string>> = TRANSITION_PROSE,
): string {
  const used = new Set<string>();
  const sections: string[] = [];
  for (const node of statesInOrder()) {
    const rows: string[] = [];
    for (const t of transitionsOf(node)) {
      const key = proseKey(node, t);
      if (used.has(key)) throw new Error(`two transitions share the key "${key}"`);
      used.add(key);
      const why = prose[key];
      if (why === undefined)
        throw new Error(`tools/machine-prose.ts has no "does / why" for the transition "${key}"`);
      const actions = actionNames(t).map(code).join(', ');
      const guard = guardName(t);
      const does = actions ? `${actions} — ${why}` : why;
      rows.push(row([eventCell(t), guard && code(guard), goesTo(node, t), does]));
    }
    const heading = `### ${statePath(node)}`;
    sections.push(
      rows.length === 0
        ? `${heading}\n\nNo transitions of its own.`
        : [
            heading,
            '',
            row(['event', 'guard', 'goes to', 'does / why']),
            '|---|---|---|---|',
            ...rows,
          ].join('\n'),
    );
  }
  const unused = Object.keys(prose).filter((key) => !used.has(key));
  if (unused.length > 0)
    throw new Error(
      `tools/machine-prose.ts has prose for no transition of the machine: "${unused.join('", "')}"`,
    );
  return sections.join('\n\n');
}

/**
 * `markdown` with `body` between the markers `start` and `end`, replacing what was
 * there; throws naming the file and the markers when they are missing.
 */
export function between(
  markdown: string,
  markers: { start: string; end: string; file: string },
  body: string,
): string {
  const from = markdown.indexOf(markers.start);
  const to = markdown.indexOf(markers.end);
  if (from < 0 || to < from)
    throw new Error(`${markers.file} needs the markers ${markers.start} and ${markers.end}`);
  return `${markdown.slice(0, from + markers.start.length)}\n${body}\n${markdown.slice(to)}`;
}

export function withTables(markdown: string, file = 'docs/machine.md'): string {
  return between(markdown, { start: TABLES_START, end: TABLES_END, file }, transitionTables());
}
