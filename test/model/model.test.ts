/**
 * Model-based tests: every path `xstate/graph` generates from the machine definition is
 * replayed on a real actor (see runner.ts), then a coverage check reads the machine
 * definition and fails on any state node or declared transition no replay exercised.
 */

import { describe, expect, it } from 'vitest';
import type { AnyStateNode, AnyTransitionDefinition } from 'xstate';
import { getStateNodes } from 'xstate/graph';
import { createMemoryServer } from '../../adapters/memory.js';
import type { OutboxStore } from '../../adapters/store.js';
import { connectionMachine } from '../../machines/connection.machine.js';
import { outboxStore } from '../../src/durable.js';
import { MODEL_OPTIONS, type ModelPath, modelPaths, stateKey } from './model.js';
import { type ModelSetup, replay } from './runner.js';
import { storeModelPaths } from './store-model.js';

/** A path that is the start of a longer one adds nothing the longer one does not check. */
function withoutPrefixes(all: ModelPath[]): ModelPath[] {
  const key = (p: ModelPath) => p.steps.map((s) => JSON.stringify(s.event)).join('\n');
  const keys = all.map(key).sort();
  const isPrefix = (k: string) => {
    const i = keys.findIndex((other) => other > k);
    return i >= 0 && (keys[i] as string).startsWith(`${k}\n`);
  };
  const seen = new Set<string>();
  return all.filter((p) => {
    const k = key(p);
    if (seen.has(k) || isPrefix(k)) return false;
    seen.add(k);
    return true;
  });
}

const taken = new Set<AnyTransitionDefinition>();
const reached = new Set<string>();

/** The store the graph is built with: the pure transition never opens it. */
const graphStore: OutboxStore = {
  open: () => new Promise(() => {}),
  write: async () => {},
  close: async () => {},
};

interface Configuration {
  readonly title: string;
  readonly setup: ModelSetup;
  readonly paths: ModelPath[];
  /** At least this many paths, ending in this many leaf states. */
  readonly least: number;
  readonly ends: number;
}

const configurations: Configuration[] = [
  // One send on the wire at a time, and two pipelined: the window changes which paths exist.
  ...[1, 2].map((maxInFlight) => ({
    title: `maxInFlight ${maxInFlight}`,
    setup: { maxInFlight },
    paths: modelPaths({
      transport: createMemoryServer().transport({ maxInFlight }),
      ...MODEL_OPTIONS,
    }),
    least: 1000,
    ends: 9,
  })),
  // With a durable store: opened, busy, failed (closing, or going on in memory), and
  // each write saved or failed (durable.md D1–D3, D5–D7).
  ...(['close', 'memory'] as const).map((fallback) => ({
    title: `a store, storeFallback '${fallback}'`,
    setup: { maxInFlight: 1, store: fallback },
    paths: storeModelPaths(
      {
        transport: createMemoryServer().transport({ maxInFlight: 1 }),
        ...MODEL_OPTIONS,
        store: outboxStore(graphStore),
      },
      fallback,
    ),
    least: fallback === 'close' ? 300 : 20,
    ends: fallback === 'close' ? 8 : 5,
  })),
];

for (const { title, setup, paths, least, ends } of configurations) {
  const replayed = withoutPrefixes(paths);
  const byEnd = new Map<string, ModelPath[]>();
  for (const path of replayed) {
    const end = stateKey(path.state.value);
    byEnd.set(end, [...(byEnd.get(end) ?? []), path]);
  }

  describe(`model-based paths, ${title} (xstate/graph, replayed on a real actor)`, () => {
    it('generates a path for every abstract state and transition', () => {
      expect(paths.length).toBeGreaterThan(least);
      expect(byEnd.size).toBe(ends);
    });

    for (const [end, group] of [...byEnd].sort(([a], [b]) => a.localeCompare(b))) {
      it(`every path that ends in ${end} (${group.length} paths)`, async () => {
        for (const path of group) {
          await replay(path, setup, taken);
          for (const step of path.steps) reached.add(stateKey(step.state.value));
        }
        // Thousands of replays on real actors: seconds, more on a loaded machine.
      }, 120_000);
    }
  });
}

function declaredTransitions(node: AnyStateNode): AnyTransitionDefinition[] {
  return [...node.transitions.values()].flat().concat(node.always ?? []);
}

function label(t: AnyTransitionDefinition): string {
  const targets = t.target?.map((n: AnyStateNode) => n.id).join(',') ?? '(stay)';
  return `${t.source.id} —${t.eventType || 'always'}${t.guard ? ` [${typeof t.guard === 'string' ? t.guard : 'guard'}]` : ''}→ ${targets}`;
}

describe('model coverage', () => {
  it('exercises every state node and every declared transition of the machine', () => {
    const nodes = getStateNodes(connectionMachine.root).filter((n) => n !== connectionMachine.root);
    const leaves = nodes.filter((n) => n.type === 'atomic' || n.type === 'final');
    const unreachedStates = leaves
      .map((n) => n.path.join('.'))
      .filter((key) => ![...reached].some((r) => r === key || r.startsWith(`${key}.`)));
    const visitedNodes = nodes.filter((n) =>
      [...reached].some((r) => `${r}.`.startsWith(`${n.path.join('.')}.`)),
    );
    const declared = [connectionMachine.root, ...nodes].flatMap(declaredTransitions);
    const missed = declared.filter((t) => !taken.has(t));
    console.log(
      `states ${visitedNodes.length}/${nodes.length}, transitions ${declared.length - missed.length}/${declared.length}`,
    );
    expect(unreachedStates).toEqual([]);
    expect(visitedNodes.length).toBe(nodes.length);
    expect(missed.map(label)).toEqual([]);
  });
});
