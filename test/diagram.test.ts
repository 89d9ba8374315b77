/**
 * The diagram and the transition tables in docs/machine.md are the machine's: regenerate
 * with `npm run diagram`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AnyStateNode } from 'xstate';
import { connectionMachine } from '../machines/connection.machine.js';
import { DIAGRAM_FILES, generated, machineDiagram } from '../tools/diagram.js';
import { statePath, statesInOrder, transitionTables } from '../tools/machine-doc.js';
import { TRANSITION_PROSE } from '../tools/machine-prose.js';

describe('machine diagram', () => {
  it.each(DIAGRAM_FILES)('%s holds what npm run diagram generates from the machine', (name) => {
    const doc = readFileSync(new URL(`../${name}`, import.meta.url), 'utf8');
    expect(doc, 'run npm run diagram').toBe(generated(name, doc));
  });

  it('draws every state and every targeted transition, with guards', () => {
    const diagram = machineDiagram();
    for (const state of [
      'connecting_opening',
      'reconnecting_waiting',
      'flushing_heartbeat',
      'open_heartbeat',
      'suspended',
      'closed',
    ]) {
      expect(diagram).toContain(`as ${state}`);
    }
    expect(diagram).toContain('reconnecting_waiting --> closed : [attemptsExhausted]');
    expect(diagram).toContain('reconnecting_waiting --> reconnecting_opening : after backoff');
    // connecting overrides resume with a transition that does nothing.
    expect(diagram).not.toMatch(/^ {2}connecting --> connecting : resume$/m);
  });

  it('draws no link.* edge out of a state that holds no link', () => {
    const edges = machineDiagram()
      .split('\n')
      .map((line) => /^ {2}(\w+) --> \w+ : (link\.\S+)/.exec(line))
      .filter((match) => match !== null)
      .map(([, from, event]) => ({ from, event }));
    // The edges are drawn at all, from the states that hold a link.
    expect(edges).toContainEqual({ from: 'reconnecting_opening', event: 'link.closed' });
    expect(edges).toContainEqual({ from: 'open', event: 'link.closed' });
    for (const from of ['reconnecting', 'reconnecting_waiting', 'suspended', 'closed']) {
      expect(
        edges.filter((edge) => edge.from === from),
        `link.* drawn from ${from}`,
      ).toEqual([]);
    }

    // The states without a link, and the ancestors whose transitions apply in them: the
    // root (drawn from every top-level state) and reconnecting (around waiting).
    const noLink = ['reconnecting.waiting', 'suspended', 'closed'].map((path) =>
      connectionMachine.getStateNodeById(`holdfast.${path}`),
    );
    const heard = (node: AnyStateNode): string[] =>
      [...node.transitions.keys()].filter((event) => event.startsWith('link.'));
    for (const state of noLink) {
      for (let node: AnyStateNode | undefined = state; node; node = node.parent) {
        expect(heard(node), `${statePath(node)} handles link.* over ${statePath(state)}`).toEqual(
          [],
        );
      }
    }
  });
});

describe('transition tables', () => {
  it('have one table per state, the root first, in document order', () => {
    const headings = transitionTables()
      .split('\n')
      .filter((line) => line.startsWith('### '));
    expect(headings).toEqual(statesInOrder().map((node) => `### ${statePath(node)}`));
    expect(headings[0]).toBe('### (root)');
  });

  it('show targetless transitions as (stays) with their actions', () => {
    expect(transitionTables()).toContain(
      '| `link.verdicts` | | (stays) | `settleVerdicts`, `pump` — in order:',
    );
    expect(transitionTables()).toContain(
      '| `link.closed` | | reconnecting (re-entered) | `reportLinkLost` —',
    );
  });

  it('throw naming the transition that has no prose', () => {
    const { 'flushing.heartbeat|link.alive|': _, ...prose } = TRANSITION_PROSE;
    expect(() => transitionTables(prose)).toThrow('"flushing.heartbeat|link.alive|"');
  });

  it('throw naming prose that matches no transition', () => {
    const prose = { ...TRANSITION_PROSE, 'suspended|link.closed|': 'a handler moved back' };
    expect(() => transitionTables(prose)).toThrow('"suspended|link.closed|"');
  });
});
