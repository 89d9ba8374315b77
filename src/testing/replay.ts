/**
 * Replays a generated path (paths.ts) on a real connection over the user's transport and
 * server: each step becomes its real cause — the app calls the API, a hook faults the
 * server — then the kit waits, bounded, for the resting state the machine predicted, with
 * every send settled and every event of the watched stream delivered, and checks the
 * server's receipts. While the stream is watched, each step also publishes one event, so
 * every state sees one arrive live or be replayed later.
 */
import type { KitPath, PathStep } from './paths.js';
import type { Probe } from './probe.js';

async function perform(p: Probe, step: PathStep, stream: string): Promise<void> {
  const { hooks, conn } = p;
  switch (step) {
    case 'send':
      p.send();
      return;
    case 'watch':
      // One event before the watch: the resume must replay it.
      await p.publish(stream);
      conn.watch(stream, 0);
      return;
    case 'suspend':
      conn.suspend();
      return;
    case 'resume':
      conn.resume();
      return;
    case 'close':
      conn.close();
      return;
    case 'drop':
      await hooks.dropLinks();
      return;
    case 'restart':
      await hooks.restart?.({ keepState: true });
      return;
    case 'lose-ack':
      await hooks.loseNextAck?.();
      p.send();
      return;
    case 'stale':
      await hooks.staleLinks?.();
      p.send();
      return;
    case 'fail-send':
      await hooks.failNextSends?.(1);
      p.send();
      return;
  }
}

/** Wait for the resting state the machine predicted after a step. */
async function rests(p: Probe, expected: string, where: string): Promise<void> {
  if (expected === 'open')
    return p.quiet(`${where}: open, every send confirmed, every event delivered`);
  await p.until(`${where}: ${expected}`, () => p.conn.state === expected);
  if (expected === 'suspended')
    await p.until(`${where}: no live link while suspended`, () => p.recorder.live() === 0);
  await p.checkServer();
}

export async function replayPath(p: Probe, path: KitPath): Promise<void> {
  const stream = p.stream();
  await p.quiet('the first link to open');
  for (const [i, step] of path.steps.entries()) {
    const where = path.steps.slice(0, i + 1).join(' → ');
    await perform(p, step, stream);
    const watched = p.conn.positions().some((pos) => pos.stream === stream);
    if (step !== 'close' && watched) await p.publish(stream);
    await rests(p, path.expected[i] as string, where);
  }
}
