/**
 * The reference server on stores that misbehave within the interface or outside it (an
 * adversarial review's findings, each kept as a test): pages shorter than asked for, a
 * store that throws at once instead of rejecting, two resumes of one stream at once on an
 * SSE link, the faults that need the memory store, and a memory store that keeps no replay.
 */
import { describe, expect, it } from 'vitest';
import type { StreamHead } from '../adapters/transport.js';
import { createServer } from '../src/server/index.js';
import { MemoryServerStore } from '../src/server/memory-store.js';
import type { StoredEvent } from '../src/server/store.js';
import { until } from './integration/wire.js';
import { open, sessionId, startServer, v2, WIRES } from './support/server-wire.js';
import { SlowStore } from './support/slow-store.js';

/** A store the interface allows ("up to `limit` events") that returns at most 300 a page. */
class ShortPages extends SlowStore {
  override async read(stream: string, after: number, limit: number) {
    return super.read(stream, after, Math.min(limit, 300));
  }
}

const seqsOf = (frames: ReturnType<Awaited<ReturnType<typeof open>>['frames']>) =>
  frames.flatMap((f) => (f.type === 'event' ? [f.seq] : []));

/**
 * An SSE event stream read by hand, with `post(resumeId)`: a resume of `feed` from 0 on
 * its link, so a test can put two of them in flight at once.
 */
async function rawEventStream(sseUrl: string, session: string) {
  const response = await fetch(`${sseUrl}/events?${v2(sessionId(session))}`);
  const reader = response.body?.getReader();
  let text = '';
  void (async () => {
    for (;;) {
      const read = await reader?.read().catch(() => undefined);
      if (read === undefined || read.done) break;
      text += new TextDecoder().decode(read.value);
    }
  })();
  await until(() => text.includes('welcome'), 'the welcome');
  const id = JSON.parse(/data: (.*)/.exec(text)?.[1] ?? '{}').connectionId as string;
  return {
    text: () => text,
    post: (resumeId: string) =>
      fetch(`${sseUrl}/resume`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Connection-ID': id },
        body: JSON.stringify({ streams: [{ stream: 'feed', seq: 0 }], resumeId }),
      }),
    close: () => void reader?.cancel().catch(() => {}),
  };
}

describe.each(WIRES)('%s on a store that misbehaves', (wire) => {
  it('store: a store whose pages are shorter than asked still has the whole backlog replayed, up to the head', async () => {
    const { listening, server } = await startServer({ store: new ShortPages() });
    for (let n = 1; n <= 1200; n++) await server.publish('feed', n);
    const client = await open(wire, listening, v2(sessionId('short')));
    expect(await client.resume([{ stream: 'feed', seq: 0 }])).toBe('resumed');
    await server.publish('feed', 1201);
    await until(() => seqsOf(client.frames()).length >= 1201, 'every event', 5000);
    expect(seqsOf(client.frames())).toEqual(Array.from({ length: 1201 }, (_, i) => i + 1));
  });

  it('store: a watch that throws at once fails that resume only: the next resume of the stream hears its live events', async () => {
    class ThrowsOnce extends MemoryServerStore {
      thrown = false;
      override watch(stream: string, listener: (event: StoredEvent) => void) {
        if (!this.thrown) {
          this.thrown = true;
          throw new Error('watch failed');
        }
        return super.watch(stream, listener);
      }
    }
    const errors: string[] = [];
    const { listening, server } = await startServer({
      store: new ThrowsOnce(),
      onError: (error, context) => errors.push(`${context.during}: ${String(error)}`),
    });
    const first = await open('sse', listening, v2(sessionId('a')));
    expect(await first.resume([{ stream: 'feed', seq: 0 }])).toBe(500);
    const second = await open(wire, listening, v2(sessionId('b')));
    expect(await second.resume([{ stream: 'feed', seq: 0 }])).toBe('resumed');
    server.publish('feed', 'live');
    await until(() => seqsOf(second.frames()).length === 1, 'the live event');
    expect(errors).toEqual(['store: Error: watch failed']);
  });

  it('store: a session lookup that throws at once refuses the link as a passing failure and leaves no connection behind', async () => {
    class NoSessions extends MemoryServerStore {
      override session(): never {
        throw new Error('session failed');
      }
    }
    const { listening, server } = await startServer({
      store: new NoSessions(),
      onError: () => {},
      maxConnections: 3,
    });
    for (let i = 0; i < 5; i++) {
      const client = await open(wire, listening, v2(sessionId(`s${i}`)));
      await until(() => client.closed() !== undefined, 'the link to be refused');
      expect(client.closed()).toMatchObject(wire === 'sse' ? { status: 503 } : { code: 1013 });
    }
    await until(() => server.connections.size === 0, 'no connection left');
  });

  it('store: a commit that throws at once is reported during store; the app had the message, so it is answered and the link goes on', async () => {
    class NoCommit extends MemoryServerStore {
      override commit(): never {
        throw new Error('commit failed');
      }
    }
    const during: string[] = [];
    const { listening, handed } = await startServer({
      store: new NoCommit(),
      onError: (_error, context) => during.push(context.during),
    });
    const client = await open(wire, listening, v2(sessionId('c')));
    expect(await client.send([{ id: 'm1', serial: 1 }])).toEqual([{ status: 'ok' }]);
    expect(await client.send([{ id: 'm2', serial: 2 }])).toEqual([{ status: 'ok' }]);
    expect(client.closed()).toBeUndefined();
    expect(handed.map((h) => h.message.serial)).toEqual([1, 2]);
    expect(during).toEqual(['store', 'store']);
  });
});

describe('two resumes of one stream at once on an SSE link', () => {
  it('store: the resumed marker of the first comes after its stream’s replay, although a second replay of the stream replaced it', async () => {
    class GatedHead extends SlowStore {
      readonly gates: Array<Promise<void>> = [];
      override async head(stream: string): Promise<StreamHead> {
        const gate = this.gates.shift();
        if (gate) await gate;
        return super.head(stream);
      }
    }
    const store = new GatedHead();
    const { listening, server } = await startServer({ store });
    for (let n = 1; n <= 3; n++) await server.publish('feed', n);
    const { text, post, close } = await rawEventStream(listening.sseUrl, 'm');
    let openFirst = () => {};
    let openSecond = () => {};
    store.gates.push(
      new Promise<void>((resolve) => {
        openFirst = resolve;
      }),
      new Promise<void>((resolve) => {
        openSecond = resolve;
      }),
    );
    const first = post('r1');
    await until(() => store.gates.length === 1, 'the first resume to wait for its head');
    const second = post('r2');
    await until(() => store.gates.length === 0, 'the second resume to wait for its head');
    openFirst();
    await new Promise((resolve) => setTimeout(resolve, 50));
    openSecond();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    await until(() => text().includes('"r1"') && text().includes('"r2"'), 'both markers');
    const seen = [...text().matchAll(/event: (\w+)\ndata: (.*)/g)].map(([, event, data]) =>
      event === 'resumed'
        ? JSON.parse(data as string).resumeId
        : event === 'event'
          ? JSON.parse(data as string).seq
          : event,
    );
    // Each marker follows a whole replay of feed (the one that replaced it, for r1).
    expect(seen.indexOf('r1')).toBeGreaterThan(seen.lastIndexOf(3));
    expect(seen.indexOf('r2')).toBeGreaterThan(seen.lastIndexOf(3));
    close();
  });
});

describe('a resume replaced by a later one that fails', () => {
  it('store: the first resume of a stream fails too when the resume that replaced it fails, never answered 200 with nothing watched', async () => {
    class GatedHead extends SlowStore {
      gate: Promise<void> | undefined;
      failNext = false;
      calls = 0;
      override async head(stream: string): Promise<StreamHead> {
        this.calls++;
        if (this.failNext) {
          this.failNext = false;
          throw new Error('head failed');
        }
        const gate = this.gate;
        this.gate = undefined;
        if (gate) await gate;
        return super.head(stream);
      }
    }
    const store = new GatedHead();
    const { listening, server } = await startServer({ store, onError: () => {} });
    await server.publish('feed', 1);
    const { text, post, close } = await rawEventStream(listening.sseUrl, 'f1');
    let openFirst = () => {};
    store.gate = new Promise<void>((resolve) => {
      openFirst = resolve;
    });
    const first = post('r1');
    await until(() => store.calls === 1, 'the first resume to wait for its head');
    store.failNext = true;
    expect((await post('r2')).status).toBe(500);
    openFirst();
    expect((await first).status).toBe(500);
    expect(text()).not.toContain('"r1"');
    close();
  });
});

describe('the faults and options of the memory store', () => {
  it('store: restart({ keepState: false }) on another store is refused before anything stops: the server goes on', async () => {
    const { server, listening } = await startServer({ store: new SlowStore() });
    await expect(server.faults.restart({ keepState: false })).rejects.toThrow(
      'the restart fault needs the memory store',
    );
    const client = await open('websocket', listening, v2(sessionId('r')));
    expect(client.welcome.type).toBe('welcome');
  });

  it('store: replayWindow 0 keeps no replay: a resume gets the live events only', async () => {
    const { listening, server } = await startServer({ replayWindow: 0 });
    server.publish('feed', 1);
    const client = await open('websocket', listening, v2(sessionId('w')));
    expect(await client.resume([{ stream: 'feed', seq: 0 }])).toBe('resumed');
    server.publish('feed', 2);
    await until(() => seqsOf(client.frames()).length === 1, 'the live event');
    expect(seqsOf(client.frames())).toEqual([2]);
    expect(() => createServer({ replayWindow: -1 })).toThrow(TypeError);
  });
});
