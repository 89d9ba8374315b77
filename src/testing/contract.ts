/**
 * The contract's duties, link by link, with no machine in between: the kit plays the
 * machine's part on a bare link (adapters/transport.ts) and the recorder checks every
 * call and callback. What a machine would forgive or hide shows here plainly.
 */
import type { LinkClose, LinkEvents, OutboundMessage } from '../../adapters/transport.js';
import type { Findings } from './findings.js';
import type { KitContext } from './probe.js';
import { outcomeProblem, Recorder } from './recorder.js';

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A bare link through the recorder, and what its events said. */
class BareLink {
  readonly recorder: Recorder;
  readonly heads = new Map<string, number>();
  readonly frames: Array<{ stream?: string; seq?: number }> = [];
  readonly closes: LinkClose[] = [];
  opens = 0;
  private serial = 0;
  private readonly session = globalThis.crypto.randomUUID().replace(/-/g, '');

  constructor(
    readonly kit: KitContext,
    readonly findings: Findings,
    readonly caseId: string,
  ) {
    this.recorder = new Recorder(kit.transport(), {
      findings,
      watching: () => 0,
      head: (stream) => this.heads.get(stream) ?? 0,
    });
  }

  connect() {
    const events: LinkEvents = {
      open: () => this.opens++,
      message: (frame) => this.frames.push(frame),
      alive: () => {},
      stream: () => {},
      close: (info) => this.closes.push(info),
    };
    return this.recorder.transport.connect(events, { session: this.session });
  }

  stream(n: number): string {
    return `conformance-${this.kit.runId}-${this.caseId}-${n}`;
  }

  async publish(stream: string, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const seq = (this.heads.get(stream) ?? 0) + 1;
      await this.kit.hooks.publish(stream, { conformance: stream, seq });
      this.heads.set(stream, seq);
    }
  }

  message(): OutboundMessage {
    const id = `${this.kit.runId}-${this.caseId}-${++this.serial}`;
    const data = { conformance: id };
    return { id, serial: this.serial, data, json: JSON.stringify(data), retry: true };
  }

  async until(what: string, holds: () => boolean): Promise<void> {
    const deadline = Date.now() + this.kit.timeoutMs;
    while (!holds()) {
      if (Date.now() > deadline)
        this.findings.stop('progress', `waited ${this.kit.timeoutMs} ms for ${what}`);
      await pause(3);
    }
  }

  /** A promise that must settle: its value, or a `progress` stop when it never does. */
  async settles<T>(what: string, promise: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('late')), this.kit.timeoutMs);
    });
    try {
      return await Promise.race([promise, late]);
    } catch (error) {
      if (error instanceof Error && error.message === 'late')
        this.findings.stop('progress', `${what} did not settle within ${this.kit.timeoutMs} ms`);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Open, resume with the replay, send, receive live, close: each duty on a working link. */
export async function linkLifecycle(kit: KitContext, findings: Findings): Promise<void> {
  const bare = new BareLink(kit, findings, 'link-lifecycle');
  const [a, b] = [bare.stream(1), bare.stream(2)];
  await bare.publish(a, 3);
  await bare.publish(b, 2);
  const link = bare.connect();
  try {
    await bare.until('the link to open (events.open)', () => bare.opens > 0);
    // The recorder checks that both replays arrived before the resume resolved.
    await bare.settles('resume()', link.resume([{ stream: a, seq: 0 }]));
    await bare.settles('resume()', link.resume([{ stream: b, seq: 1 }]));
    const seqs = (stream: string) =>
      bare.frames.filter((f) => f.stream === stream).map((f) => f.seq);
    // Whether they came in time is the recorder's to say; here, that the right ones came.
    await bare.until('both replays', () => seqs(a).length >= 3 && seqs(b).length >= 1);
    findings.check(
      seqs(a).join() === '1,2,3' && seqs(b).join() === '2',
      'replay from the position',
      () => `resuming ${a}@0 and ${b}@1 replayed ${a}: [${seqs(a)}], ${b}: [${seqs(b)}]`,
    );
    const message = bare.message();
    const outcome = await bare.settles('send()', link.send(message));
    findings.check(
      outcome.status === 'ok',
      'send reaches the server',
      () => `send(${message.id}) on a healthy link resolved ${JSON.stringify(outcome)}`,
    );
    const received = await kit.hooks.received();
    findings.check(
      received.some((m) => m.id === message.id),
      'send reaches the server',
      () => `send(${message.id}) resolved ok but the server's app never got it`,
    );
    await bare.publish(a, 1);
    await bare.until(`the live event ${a}@4`, () => seqs(a).includes(4));
  } finally {
    link.close();
  }
  // Events published after close() must not come back through the closed link.
  await bare.publish(a, 1);
  await pause(kit.graceMs);
}

/** close() before the server greeted the link: nothing at all may follow. */
export async function closeBeforeOpen(kit: KitContext, findings: Findings): Promise<void> {
  const bare = new BareLink(kit, findings, 'close-before-open');
  const link = bare.connect();
  link.close();
  link.close(); // idempotent by contract
  // Long enough for a link on loopback to have opened, had it been left alone.
  await pause(Math.max(kit.graceMs, 150));
  findings.check(
    bare.opens === 0 && bare.closes.length === 0,
    'nothing after close',
    () =>
      `after close() before open, the link called open ${bare.opens}× and close ${bare.closes.length}×`,
  );
}

/**
 * Sends in flight when the link is closed, and sends on a closed link, settle as outcomes;
 * an `ok` among them is a message the server's app has.
 */
export async function sendsSettleOnClose(kit: KitContext, findings: Findings): Promise<void> {
  const bare = new BareLink(kit, findings, 'sends-settle');
  const link = bare.connect();
  const oks: Array<{ what: string; id: string }> = [];
  let closed = false;
  try {
    await bare.until('the link to open (events.open)', () => bare.opens > 0);
    const messages = [bare.message(), bare.message(), bare.message(), bare.message()];
    const inFlight = messages.slice(0, 3).map((m) => link.send(m));
    link.close();
    closed = true;
    const after = link.send(messages[3] as OutboundMessage);
    for (const [i, sent] of [...inFlight, after].entries()) {
      const what = i < 3 ? `send #${i + 1}, in flight at close()` : 'send() after close()';
      // The recorder names a rejection; here a hang is the failure.
      const outcome = await bare.settles(what, sent).catch(() => undefined);
      const problem = outcome === undefined ? undefined : outcomeProblem(outcome);
      findings.check(problem === undefined, 'valid outcome', () => `${what}: ${problem}`);
      if (outcome?.status === 'ok') oks.push({ what, id: (messages[i] as OutboundMessage).id });
    }
  } finally {
    // Also when the link never opened: the duty leaves nothing open behind it.
    if (!closed) link.close();
  }
  await pause(kit.graceMs);
  // An `ok` says the server has it, unless the transport only promises "written".
  if (bare.recorder.transport.delivery === 'written')
    return findings.uncheckable(
      "sends-settle: an ok from a delivery: 'written' transport says written, not received: not checked against the server",
    );
  const received = new Set((await kit.hooks.received()).map((m) => m.id));
  for (const { what, id } of oks)
    findings.check(
      received.has(id),
      'send reaches the server',
      () => `${what} resolved ok, and the server's app never got ${id}`,
    );
}
