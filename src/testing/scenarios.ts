/**
 * Fault scenarios, each driven through the user's own server hooks on a real connection
 * and checked, throughout, by the recorder (the contract's duties) and the observer (our
 * invariants). Each ends quiet (open, nothing pending, every event delivered) or closed.
 */
import type { Probe } from './probe.js';
import type { ConformanceOptions, OptionalHook } from './types.js';

export interface Scenario {
  readonly id: string;
  readonly name: string;
  /** Hooks it cannot run without: missing, the case is skipped naming them. */
  readonly needs: readonly OptionalHook[];
  readonly connection?: ConformanceOptions['connection'];
  run(probe: Probe): Promise<void>;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Wait until the server's app has at least `count` of this case's messages. */
async function atServer(probe: Probe, count: number): Promise<void> {
  await probe.until(`the server's app to get ${count} message(s)`, async () => {
    const ids = new Set((await probe.hooks.received()).map((m) => m.id));
    return [...probe.observer.sends.keys()].filter((id) => ids.has(id)).length >= count;
  });
}

export const scenarios: readonly Scenario[] = [
  {
    id: 'send-and-receive',
    name: 'scenario: sends before and after open, a replay and live events',
    needs: [],
    async run(p) {
      const s = p.stream();
      await p.publish(s, 3);
      p.conn.watch(s, 0);
      p.send(5); // before the link is even open: flushed after the resume (R2, R4)
      await p.quiet();
      p.send(5);
      await p.publish(s, 3);
      await p.quiet();
    },
  },
  {
    id: 'dropped-link',
    name: 'scenario: the server drops the link mid-burst, events published while it is down',
    needs: [],
    async run(p) {
      const s = p.stream();
      p.conn.watch(s, 0);
      await p.quiet();
      p.send(30);
      await atServer(p, 1);
      await p.hooks.dropLinks();
      await p.publish(s, 3);
      await p.quiet('every send confirmed and every event delivered after the drop');
    },
  },
  {
    id: 'send-while-resuming',
    name: 'scenario: sends while the resume handshake hangs',
    needs: ['holdResumes'],
    connection: { resumeTimeoutMs: 300 },
    async run(p) {
      const s = p.stream();
      await p.publish(s, 2);
      p.conn.watch(s, 0);
      await p.quiet();
      await p.hooks.holdResumes?.(true);
      try {
        await p.hooks.dropLinks();
        await p.until('the next link to be resuming', () => p.state.endsWith('resuming'));
        const held = p.send(3);
        await p.publish(s, 1);
        // Nothing may leave while the handshake is unanswered (R2): give it a moment to.
        await pause(50);
        const ids = new Set((await p.hooks.received()).map((m) => m.id));
        p.findings.check(
          !held.some((id) => ids.has(id)),
          'R2 resume before flush',
          () => "a message sent while resuming reached the server's app before the resume did",
        );
      } finally {
        await p.hooks.holdResumes?.(false);
      }
      // The resume timeout ends the hung handshake; the next link resumes, then flushes.
      await p.quiet('the connection to recover from the hung resume');
    },
  },
  {
    id: 'stale-link',
    name: 'scenario: the server forgets the link (sends answered stale)',
    needs: ['staleLinks'],
    async run(p) {
      p.send(2);
      await p.quiet();
      await p.hooks.staleLinks?.();
      p.send(5);
      await p.quiet('the sends to be resent on a new link');
    },
  },
  {
    id: 'failed-sends',
    name: 'scenario: transient send failures',
    needs: ['failNextSends'],
    async run(p) {
      await p.quiet();
      await p.hooks.failNextSends?.(2);
      try {
        p.send(6);
        await p.quiet('the failed sends to be resent');
      } finally {
        await p.hooks.failNextSends?.(0);
      }
    },
  },
  {
    id: 'lost-ack',
    name: "scenario: the server's app got a message, its ack is lost",
    needs: ['loseNextAck'],
    async run(p) {
      await p.quiet();
      await p.hooks.loseNextAck?.();
      p.send(4);
      // The resend of the unacknowledged message must not reach the app again (R7).
      await p.quiet('the unacknowledged message to be confirmed');
    },
  },
  {
    id: 'restart',
    name: 'scenario: the server restarts with its state (sends in flight)',
    needs: ['restart'],
    async run(p) {
      const s = p.stream();
      await p.publish(s, 2);
      p.conn.watch(s, 0);
      await p.quiet();
      p.send(20);
      await atServer(p, 1);
      await p.hooks.restart?.({ keepState: true });
      await p.publish(s, 2);
      await p.quiet('every send confirmed and every event delivered after the restart');
    },
  },
  {
    id: 'restart-state-lost',
    name: 'scenario: the server restarts without its state',
    needs: ['restart'],
    async run(p) {
      const s = p.stream();
      await p.publish(s, 2);
      p.conn.watch(s, 0);
      p.send(3);
      await p.quiet();
      await p.hooks.restart?.({ keepState: false });
      p.forgetHeads();
      p.send(3);
      // Only a v2 server names the new epoch, so only then can the client start over (R23).
      if (p.recorder.v2) await p.publish(s, 2);
      await p.quiet('the connection to recover from a restart that lost the state');
      if (p.recorder.v2)
        p.findings.check(
          p.observer.errors.includes('reset'),
          'R23 every reset is reported',
          () => `the log of ${JSON.stringify(s)} started over and no reset was reported`,
        );
    },
  },
  {
    id: 'suspend-then-close',
    name: 'scenario: suspend, resume, suspend again, then close with sends queued',
    needs: [],
    async run(p) {
      const s = p.stream();
      p.conn.watch(s, 0);
      p.send(2);
      await p.quiet();
      p.conn.suspend();
      await p.until('no live link while suspended', () => p.recorder.live() === 0);
      const queued = p.send(2);
      await p.publish(s, 2);
      await pause(20);
      const ids = new Set((await p.hooks.received()).map((m) => m.id));
      p.findings.check(
        !queued.some((id) => ids.has(id)),
        'R13 nothing sent while suspended',
        () => 'a message sent while suspended reached the server before resume()',
      );
      p.conn.resume();
      await p.quiet('the queued sends and missed events after resume()');
      p.conn.suspend();
      const dropped = p.send(2);
      p.conn.close();
      await p.until('the sends queued at close() to be rejected', () =>
        dropped.every((id) => p.observer.sends.get(id)?.outcome === 'rejected'),
      );
    },
  },
  {
    id: 'callbacks-after-close',
    name: 'scenario: close with sends in flight and events on the way',
    needs: [],
    async run(p) {
      const s = p.stream();
      p.conn.watch(s, 0);
      await p.quiet();
      let closed = false;
      let after = 0;
      p.conn.on('message', () => {
        if (closed) after++;
      });
      p.send(10);
      await p.publish(s, 3);
      closed = true;
      p.conn.close();
      // Keep the server busy on the closed link: the recorder names any callback it makes.
      await p.publish(s, 3);
      await pause(p.kit.graceMs);
      p.findings.check(after === 0, 'nothing after close', () => `${after} event(s) after close()`);
    },
  },
];
