/**
 * The kit fails what it should, and says why: transports broken on purpose (broken.ts),
 * missing hooks and checks reported as skipped, bad options refused, the error a failed
 * report throws. A few cases each, mostly on the memory server, to stay quick.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventSource } from 'eventsource';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { sseTransport } from '../../adapters/sse.js';
import type { Transport } from '../../adapters/transport.js';
import { webSocketTransport } from '../../adapters/websocket.js';
import { createConnection } from '../../src/connection.js';
import {
  assertConformance,
  ConformanceError,
  conformanceCases,
  runConformance,
} from '../../src/testing/index.js';
import { kitPaths } from '../../src/testing/paths.js';
import {
  eagerResume,
  leakyClose,
  neverOpens,
  okAfterClose,
  okOnClose,
  reorderingSends,
  throwsOnSecondConnect,
} from './broken.js';
import { memoryBed, referenceBed } from './servers.js';

const QUICK = ['link-lifecycle', 'send-and-receive', 'dropped-link'];

function firstRules(report: Awaited<ReturnType<typeof runConformance>>) {
  return Object.fromEntries(report.results.map((r) => [r.id, r.violation?.rule ?? 'passed']));
}

/** Every rule a case broke, once each, in the order first seen. */
function rules(report: Awaited<ReturnType<typeof runConformance>>) {
  return Object.fromEntries(
    report.results.map((r) => [r.id, [...new Set(r.violations.map((v) => v.rule))]]),
  );
}

const NO_LIVE_LINKS =
  'R14 at the server: the server hooks have no liveLinks(), so a link the transport left open at the server goes unseen';

describe('conformance kit against broken transports', () => {
  it('a transport whose resume() resolves before the replay fails, named after the duty', async () => {
    const bed = memoryBed();
    const report = await runConformance({
      name: 'eager resume',
      transport: () => eagerResume(bed.server.transport()),
      server: bed.hooks,
      cases: QUICK,
      timeoutMs: 2000,
    });
    bed.server.close();
    expect(report.ok).toBe(false);
    expect(firstRules(report)).toEqual({
      'link-lifecycle': 'resume waits for its replay',
      'send-and-receive': 'resume waits for its replay',
      'dropped-link': 'resume waits for its replay',
    });
    // Seen from the app too: the machine flushed before the replay reached it.
    const rules = report.results.flatMap((r) => r.violations.map((v) => v.rule));
    expect(rules).toContain('R2 resume before flush');
    expect(report.results[0]?.violation?.detail).toMatch(
      /^link 1: resume\(conformance-\w+-link-lifecycle-1@0\) resolved before its replay: the log of "conformance-\w+-link-lifecycle-1" held up to seq 3, only up to 0 had arrived$/,
    );
  }, 30_000);

  it('a transport that reorders sends fails, named after send order', async () => {
    const bed = memoryBed();
    const report = await runConformance({
      name: 'reordering',
      transport: () => reorderingSends(bed.server.transport()),
      server: bed.hooks,
      cases: QUICK,
      timeoutMs: 2000,
    });
    bed.server.close();
    // The bare link sends one message at a time: nothing to reorder there.
    expect(firstRules(report)).toEqual({
      'link-lifecycle': 'passed',
      'send-and-receive': 'R1 order',
      'dropped-link': 'R1 order',
    });
    expect(report.results[1]?.violation?.detail).toMatch(
      /was confirmed but never reached the server's app, while a message sent after it did: it was overtaken$/,
    );
  }, 30_000);

  it('assertConformance and a case run() throw a ConformanceError naming each failed case', async () => {
    const bed = memoryBed();
    const options = {
      name: 'reordering',
      transport: () => reorderingSends(bed.server.transport()),
      server: bed.hooks,
      cases: ['send-and-receive'],
    };
    const report = await runConformance(options);
    const thrown = (() => {
      try {
        assertConformance(report);
      } catch (error) {
        return error;
      }
    })();
    expect(thrown).toBeInstanceOf(ConformanceError);
    expect((thrown as Error).message).toMatch(
      /^holdfast\/testing: 1 of 1 conformance case failed for "reordering":\n {2}✗ scenario: sends before and after open, a replay and live events — R1 order: .+ \(\+\d+ more\)$/,
    );
    const [single] = conformanceCases(options);
    await expect(single?.run()).rejects.toBeInstanceOf(ConformanceError);
    bed.server.close();
  }, 30_000);

  it('a case whose hook is missing is reported skipped, naming the hook', async () => {
    const bed = memoryBed();
    const { received, publish, dropLinks } = bed.hooks;
    const options = {
      transport: () => bed.server.transport(),
      server: { received, publish, dropLinks },
      cases: ['lost-ack', 'send-while-resuming', 'paths-restart', 'send-and-receive'],
    };
    const report = await runConformance(options);
    bed.server.close();
    expect(report.ok).toBe(true);
    expect(report.results.map((r) => [r.id, r.status, r.skipped])).toEqual([
      ['send-and-receive', 'passed', undefined],
      ['send-while-resuming', 'skipped', 'the server hooks have no holdResumes()'],
      ['lost-ack', 'skipped', 'the server hooks have no loseNextAck()'],
      // No hook, no restart step in the graph: its case is skipped, not left out.
      ['paths-restart', 'skipped', 'the server hooks have no restart()'],
    ]);
    const listed = conformanceCases(options).map((c) => [c.id, c.skip]);
    expect(listed).toContainEqual(['lost-ack', 'needs server hook loseNextAck()']);
    expect(listed).toContainEqual(['paths-restart', 'needs server hook restart()']);
  }, 30_000);

  it('refuses case ids that name no case, listing the ones there are', async () => {
    const bed = memoryBed();
    const options = {
      transport: () => bed.server.transport(),
      server: bed.hooks,
      cases: ['link-lifecyle', 'sends-settle', 'paths-restartt'],
    };
    const refusal =
      /^holdfast\/testing: options\.cases names no case "link-lifecyle", "paths-restartt"; the cases are link-lifecycle, close-before-open, sends-settle, send-and-receive, .*, paths-restart, .*paths-fail-send/;
    await expect(runConformance(options)).rejects.toThrow(TypeError);
    await expect(runConformance(options)).rejects.toThrow(refusal);
    expect(() => conformanceCases(options)).toThrow(refusal);
    // The same ids whatever the hooks: a hook-less path case is still a case (skipped).
    const { received, publish, dropLinks } = bed.hooks;
    const bare = { ...options, cases: undefined, server: { received, publish, dropLinks } };
    expect(conformanceCases(bare).map((c) => c.id)).toEqual(
      conformanceCases({ ...options, cases: undefined }).map((c) => c.id),
    );
    expect(() => conformanceCases({ ...options, cases: 'sends-settle' as never })).toThrow(
      /options\.cases must be an array of case ids/,
    );
    bed.server.close();
  });

  it('lists the cases without making a transport: the paths do not depend on its window', () => {
    const bed = memoryBed();
    let made = 0;
    const transport = () => {
      made++;
      return bed.server.transport();
    };
    expect(conformanceCases({ transport, server: bed.hooks }).length).toBeGreaterThan(20);
    expect(made).toBe(0);
    const paths = kitPaths(bed.hooks);
    for (const window of [1, 2, 64]) expect(kitPaths(bed.hooks, window)).toEqual(paths);
    bed.server.close();
  });

  it('refuses options without a transport factory or a required hook, naming it', () => {
    const bed = memoryBed();
    expect(() =>
      conformanceCases({ transport: () => bed.server.transport(), server: {} as never }),
    ).toThrow(/^holdfast\/testing: options\.server\.received must be a function/);
    expect(() => conformanceCases({ transport: undefined as never, server: bed.hooks })).toThrow(
      TypeError,
    );
  });

  it('a transport whose close() leaves the server its links fails: the server still holds them', async () => {
    const bed = memoryBed();
    const report = await runConformance({
      name: 'leaky close',
      transport: () => leakyClose(bed.server.transport()),
      server: bed.hooks,
      cases: ['link-lifecycle', 'close-before-open', 'sends-settle', 'send-and-receive'],
      // Also how long the server gets to let go of a closed link (at most 2 s).
      timeoutMs: 500,
    });
    bed.server.close();
    // The client sees nothing wrong: only the server can tell.
    expect(rules(report)).toEqual({
      'link-lifecycle': ['R14 no link after close'],
      'close-before-open': ['R14 no link after close'],
      'sends-settle': ['R14 no link after close'],
      'send-and-receive': ['R14 no link after close'],
    });
    expect(report.results[3]?.violation?.detail).toMatch(
      /^500 ms after close\(\), the server still holds 1 link\(s\) more than before \(liveLinks\(\): 3 before, 4 after\)$/,
    );
    expect(report.unchecked).toEqual([]);
  }, 30_000);

  it('so does it over WebSocket and SSE against the reference server', async () => {
    const bed = await referenceBed();
    const wires: Record<string, () => Transport> = {
      websocket: () => webSocketTransport({ url: bed.listening.wsUrl, WebSocket }),
      sse: () => sseTransport({ url: bed.listening.sseUrl, EventSource }),
    };
    for (const [name, wire] of Object.entries(wires)) {
      const sound = await runConformance({
        name,
        transport: wire,
        server: bed.hooks,
        cases: ['close-before-open', 'send-and-receive', 'stale-link'],
      });
      expect(firstRules(sound), name).toEqual({
        'close-before-open': 'passed',
        'send-and-receive': 'passed',
        'stale-link': 'passed',
      });
      const leaky = await runConformance({
        name,
        transport: () => leakyClose(wire()),
        server: bed.hooks,
        cases: ['link-lifecycle', 'send-and-receive'],
        timeoutMs: 500,
      });
      expect(rules(leaky), name).toEqual({
        'link-lifecycle': ['R14 no link after close'],
        'send-and-receive': ['R14 no link after close'],
      });
      await bed.hooks.dropLinks();
    }
    await bed.close();
  }, 60_000);

  it('the reference bed counts an SSE stream the server forgot, until the client lets go', async () => {
    const bed = await referenceBed();
    const conn = createConnection({
      transport: sseTransport({ url: bed.listening.sseUrl, EventSource }),
      backoff: () => 10,
    });
    const until = async (holds: () => boolean) => {
      for (let i = 0; i < 400 && !holds(); i++) await new Promise((r) => setTimeout(r, 5));
      expect(holds()).toBe(true);
    };
    await until(() => conn.state === 'open');
    expect(await bed.hooks.liveLinks?.()).toBe(1);
    await bed.hooks.staleLinks?.();
    // Gone from `connections`, its event stream still open: still a link the server holds.
    expect(bed.server.connections.size).toBe(0);
    expect(await bed.hooks.liveLinks?.()).toBe(1);
    conn.close();
    await until(() => bed.hooks.liveLinks?.() === 0);
    await bed.close();
  }, 30_000);

  it('without liveLinks() the server side of the closed-link check is reported unchecked, with why', async () => {
    const bed = memoryBed();
    const { liveLinks, ...hooks } = bed.hooks;
    const options = {
      transport: () => leakyClose(bed.server.transport()),
      server: hooks,
      cases: ['link-lifecycle', 'send-and-receive'],
    };
    const report = await runConformance(options);
    expect(liveLinks).toBeTypeOf('function');
    expect(report.ok).toBe(true);
    expect(report.results.map((r) => [r.id, r.status, r.unchecked])).toEqual([
      ['link-lifecycle', 'passed', [NO_LIVE_LINKS]],
      ['send-and-receive', 'passed', [NO_LIVE_LINKS]],
    ]);
    expect(report.unchecked).toEqual([NO_LIVE_LINKS]);
    const [single] = conformanceCases(options);
    expect((await single?.run())?.unchecked).toEqual([NO_LIVE_LINKS]);
    bed.server.close();
  }, 30_000);

  it('a duty closes its link when the link never opens', async () => {
    const bed = memoryBed();
    for (const id of ['link-lifecycle', 'sends-settle']) {
      const report = await runConformance({
        transport: () => neverOpens(bed.server.transport()),
        server: bed.hooks,
        cases: [id],
        timeoutMs: 300,
      });
      expect(rules(report), id).toEqual({ [id]: ['progress'] });
      expect(bed.server.live.length, id).toBe(0);
    }
    bed.server.close();
  }, 30_000);

  it('a connect() that throws is named once, not blamed on the machine after it', async () => {
    const bed = memoryBed();
    const report = await runConformance({
      transport: () => throwsOnSecondConnect(bed.server.transport()),
      server: bed.hooks,
      cases: ['dropped-link'],
      timeoutMs: 2000,
    });
    bed.server.close();
    const broke = rules(report)['dropped-link'];
    expect(broke?.[0]).toBe('connect never throws');
    expect(broke).not.toContain('R5 one link');
    expect(broke).not.toContain('R14 no link after close');
  }, 30_000);

  it('an ok for a send the server never got fails sends-settle', async () => {
    // Over SSE the sends in flight at close() are cut before they reach the server (over
    // memory and WebSocket they get there first, and an ok for them would be true).
    const bed = await referenceBed();
    const sse = () => sseTransport({ url: bed.listening.sseUrl, EventSource });
    for (const [name, broken, what] of [
      ['ok after close', okAfterClose, 'send\\(\\) after close\\(\\)'],
      ['ok on close', okOnClose, 'send #1, in flight at close\\(\\)'],
    ] as const) {
      const report = await runConformance({
        name,
        transport: () => broken(sse()),
        server: bed.hooks,
        cases: ['sends-settle'],
      });
      expect(firstRules(report), name).toEqual({ 'sends-settle': 'send reaches the server' });
      expect(report.results[0]?.violation?.detail, name).toMatch(
        new RegExp(`^${what} resolved ok, and the server's app never got \\w+-sends-settle-\\d$`),
      );
    }
    await bed.close();
  }, 30_000);

  it('the kit imports no test runner', () => {
    const dir = join(dirname(fileURLToPath(import.meta.url)), '../../src/testing');
    for (const file of readdirSync(dir)) {
      const source = readFileSync(join(dir, file), 'utf8');
      expect(source, file).not.toMatch(/from ['"](vitest|jest|@jest\/[\w-]+|node:test|mocha)['"]/);
    }
  });
});
