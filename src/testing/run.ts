/**
 * The kit's two ways in: `runConformance()` runs every case and returns the report (it
 * throws only on bad options), and `conformanceCases()` hands each case over to be
 * registered as a test of the user's own runner. Cases share the user's server, so they
 * run one after the other.
 */
import { getStateNodes } from 'xstate/graph';
import { connectionMachine } from '../../machines/connection.machine.js';
import { closeBeforeOpen, linkLifecycle, sendsSettleOnClose } from './contract.js';
import { CaseStopped, ConformanceError, Findings } from './findings.js';
import { type KitPath, kitPaths, type PathStep, STEP_HOOKS } from './paths.js';
import { checkServerLetGo, type KitContext, Probe, serverLinks } from './probe.js';
import { replayPath } from './replay.js';
import { scenarios } from './scenarios.js';
import type {
  CaseKind,
  CaseResult,
  ConformanceCase,
  ConformanceOptions,
  ConformanceReport,
  OptionalHook,
} from './types.js';

interface CaseDef {
  readonly id: string;
  readonly name: string;
  readonly kind: CaseKind;
  readonly needs: readonly OptionalHook[];
  body(kit: KitContext, findings: Findings): Promise<void>;
}

/** A scenario or path on a probe: run it, then close and check what must hold once closed. */
function onProbe(
  id: string,
  run: (probe: Probe) => Promise<void>,
  connection?: ConformanceOptions['connection'],
) {
  return async (kit: KitContext, findings: Findings) => {
    const probe = new Probe(kit, findings, id, connection, await serverLinks(kit));
    try {
      await run(probe);
    } finally {
      await probe.finish();
    }
  };
}

const STEP_NAMES: Record<PathStep, string> = {
  send: 'a send',
  watch: 'a watch',
  suspend: 'suspend()',
  resume: 'resume()',
  close: 'close()',
  drop: 'a dropped link',
  restart: 'a restart',
  'lose-ack': 'a lost ack',
  stale: 'a stale link',
  'fail-send': 'a failed send',
};

/**
 * Generated paths, one case per last step: "every resting state, then X". A fault step
 * whose hook is missing is not in the graph; its case is listed all the same, skipped.
 * The paths do not depend on the transport's `maxInFlight` (the resting states they pass
 * through do not), so no transport is made to list them.
 */
function pathCases(options: ConformanceOptions): CaseDef[] {
  const byLast = new Map<PathStep, KitPath[]>();
  for (const path of kitPaths(options.server)) {
    const last = path.steps[path.steps.length - 1] as PathStep;
    byLast.set(last, [...(byLast.get(last) ?? []), path]);
  }
  const generated = [...byLast].map(([last, paths]): CaseDef => {
    const id = `paths-${last}`;
    return {
      id,
      name: `path: every resting state, then ${STEP_NAMES[last]} (${paths.length} paths)`,
      kind: 'path' as const,
      needs: [],
      body: async (kit: KitContext, findings: Findings) => {
        for (const [i, path] of paths.entries())
          await onProbe(`${id}-${i + 1}`, (p) => replayPath(p, path))(kit, findings);
      },
    };
  });
  const hookless = Object.entries(STEP_HOOKS)
    .filter(
      ([step, hook]) =>
        !byLast.has(step as PathStep) && typeof options.server?.[hook] !== 'function',
    )
    .map(
      ([step, hook]): CaseDef => ({
        id: `paths-${step}`,
        name: `path: every resting state, then ${STEP_NAMES[step as PathStep]}`,
        kind: 'path',
        needs: [hook],
        body: async () => {},
      }),
    );
  // In the steps' own order, so the ids are listed alike whatever the hooks.
  const order = Object.keys(STEP_NAMES);
  const rank = (def: CaseDef) => order.indexOf(def.id.slice('paths-'.length));
  return [...generated, ...hookless].sort((a, b) => rank(a) - rank(b));
}

function allCases(options: ConformanceOptions): CaseDef[] {
  // A duty's link must be gone at the server too once the duty closed it (R14).
  const duty = (id: string, name: string, body: CaseDef['body']): CaseDef => ({
    id,
    name: `duty: ${name}`,
    kind: 'duty',
    needs: [],
    body: async (kit, findings) => {
      const before = await serverLinks(kit);
      try {
        await body(kit, findings);
      } finally {
        await checkServerLetGo(kit, findings, before);
      }
    },
  });
  return [
    duty(
      'link-lifecycle',
      'open once, resume after the replay, send, nothing after close',
      linkLifecycle,
    ),
    duty('close-before-open', 'close() before open silences the link', closeBeforeOpen),
    duty('sends-settle', 'sends settle as outcomes when the link closes', sendsSettleOnClose),
    ...scenarios.map((s) => ({
      id: s.id,
      name: s.name,
      kind: 'scenario' as const,
      needs: s.needs,
      body: onProbe(s.id, (p) => s.run(p), s.connection),
    })),
    ...pathCases(options),
  ];
}

function checkOptions(options: ConformanceOptions): void {
  const fail = (what: string, got: unknown) => {
    throw new TypeError(
      `holdfast/testing: ${what}, got ${typeof got === 'function' ? 'a function' : (JSON.stringify(got) ?? String(got))}`,
    );
  };
  if (typeof options?.transport !== 'function')
    fail('options.transport must be a function that returns a fresh Transport', options?.transport);
  for (const hook of ['received', 'publish', 'dropLinks'] as const)
    if (typeof options.server?.[hook] !== 'function')
      fail(
        `options.server.${hook} must be a function (docs/testing-kit.md, "Hooks")`,
        options.server?.[hook],
      );
}

function kitOf(options: ConformanceOptions, reached: Set<string>): KitContext {
  return {
    hooks: options.server,
    transport: options.transport,
    timeoutMs: options.timeoutMs ?? 5000,
    graceMs: options.graceMs ?? 30,
    connection: options.connection,
    runId: globalThis.crypto.randomUUID().slice(0, 8),
    reached,
  };
}

async function runCase(def: CaseDef, kit: KitContext): Promise<CaseResult> {
  const base = { id: def.id, name: def.name, kind: def.kind };
  const missing = def.needs.filter((hook) => typeof kit.hooks[hook] !== 'function');
  if (missing.length > 0)
    return {
      ...base,
      status: 'skipped',
      skipped: `the server hooks have no ${missing.map((h) => `${h}()`).join(' or ')}`,
      violations: [],
      unchecked: [],
      durationMs: 0,
    };
  const findings = new Findings();
  const started = Date.now();
  try {
    await def.body(kit, findings);
  } catch (error) {
    // A stop is already a violation; anything else is a throw the kit did not expect.
    if (!(error instanceof CaseStopped)) findings.add('unexpected error', String(error));
  }
  const [violation] = findings.list;
  return {
    ...base,
    status: violation ? 'failed' : 'passed',
    ...(violation ? { violation } : {}),
    violations: findings.list,
    unchecked: findings.unchecked,
    durationMs: Date.now() - started,
  };
}

/** The cases `options.cases` asks for (all without it); an id that names none is refused. */
function selected(options: ConformanceOptions): CaseDef[] {
  checkOptions(options);
  const defs = allCases(options);
  const wanted = options.cases;
  if (wanted === undefined) return defs;
  if (!Array.isArray(wanted) || wanted.some((id) => typeof id !== 'string'))
    throw new TypeError(
      `holdfast/testing: options.cases must be an array of case ids, got ${JSON.stringify(wanted) ?? String(wanted)}`,
    );
  const ids = defs.map((d) => d.id);
  const unknown = wanted.filter((id) => !ids.includes(id));
  if (unknown.length > 0)
    throw new TypeError(
      `holdfast/testing: options.cases names no case ${unknown.map((id) => JSON.stringify(id)).join(', ')}; the cases are ${ids.join(', ')}`,
    );
  return defs.filter((d) => wanted.includes(d.id));
}

/** Every leaf state of the machine, as `stateKey` names them. */
function leafStates(): string[] {
  return getStateNodes(connectionMachine.root)
    .filter((n) => n.type === 'atomic' || n.type === 'final')
    .map((n) => n.path.join('.'));
}

/**
 * Run every case against the transport and server, one after the other, and report.
 * Never throws for a failing transport: `assertConformance(report)` does.
 */
export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const reached = new Set<string>();
  const kit = kitOf(options, reached);
  const started = Date.now();
  const results: CaseResult[] = [];
  for (const def of selected(options)) results.push(await runCase(def, kit));
  const leaves = leafStates();
  return {
    name: options.name ?? 'transport',
    ok: results.every((r) => r.status !== 'failed'),
    results,
    unchecked: [...new Set(results.flatMap((r) => r.unchecked))],
    coverage: {
      reached: leaves.filter((l) => reached.has(l)),
      missed: leaves.filter((l) => !reached.has(l)),
    },
    durationMs: Date.now() - started,
  };
}

/**
 * Each case on its own, to register one test per case: `run()` resolves with the result,
 * or throws `ConformanceError` naming the first violation. Run them in order, not at once.
 */
export function conformanceCases(options: ConformanceOptions): ConformanceCase[] {
  const kit = kitOf(options, new Set());
  const name = options.name ?? 'transport';
  return selected(options).map((def) => {
    const missing = def.needs.filter((hook) => typeof options.server[hook] !== 'function');
    return {
      id: def.id,
      name: def.name,
      kind: def.kind,
      skip: missing.length
        ? `needs server hook ${missing.map((h) => `${h}()`).join(', ')}`
        : undefined,
      async run() {
        const result = await runCase(def, kit);
        if (result.status === 'failed') throw new ConformanceError(name, [result], 1);
        return result;
      },
    };
  });
}
