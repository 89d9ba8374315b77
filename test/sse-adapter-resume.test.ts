/** The SSE adapter: a resume waits for its replay (the resumed event). */
import { describe, expect, it } from 'vitest';
import type { FetchLike } from '../adapters/sse.js';
import { settle } from './support/settle.js';
import { confirming, open, SESSION, V2_WELCOME } from './support/sse-fakes.js';

describe('SSE adapter: a resume waits for its replay (the resumed event)', () => {
  /** A fetch whose resume POSTs wait until the test answers them, with the body it gives. */
  function held() {
    const resumes: Array<{
      body: { streams: unknown; resumeId?: unknown };
      answer: (body: unknown) => void;
    }> = [];
    const fetch: FetchLike = (_url, init) =>
      new Promise((resolve, reject) => {
        init.signal.addEventListener('abort', () => reject(init.signal.reason));
        resumes.push({
          body: JSON.parse(init.body),
          answer: (body) => resolve({ status: 200, json: async () => body }),
        });
      });
    return { fetch, resumes };
  }
  /** Whether a promise has settled yet, and how. */
  const watch = (promise: Promise<void>) => {
    const state = { settled: 'no' as 'no' | 'resolved' | 'rejected', error: undefined as unknown };
    promise.then(
      () => {
        state.settled = 'resolved';
      },
      (error: unknown) => {
        state.settled = 'rejected';
        state.error = error;
      },
    );
    return state;
  };

  it('asks with a resumeId unique on the link: "1", "2", … in the order of the resumes', async () => {
    const { fetch, resumes } = held();
    const { link } = open(fetch, {}, {}, V2_WELCOME, SESSION);
    link.resume([{ stream: 'a', seq: 0 }]);
    link.resume([{ stream: 'b', seq: 3 }]);
    await settle();
    expect(resumes.map((r) => r.body)).toEqual([
      { streams: [{ stream: 'a', seq: 0 }], resumeId: '1' },
      { streams: [{ stream: 'b', seq: 3 }], resumeId: '2' },
    ]);
  });

  it('the marker after the 200: resolves only then, with every replayed event delivered before it', async () => {
    const { fetch, resumes } = held();
    const { link, source, seen, frames } = open(fetch, {}, {}, V2_WELCOME, SESSION);
    const resumed = link.resume([{ stream: 'a', seq: 0 }]);
    resumed.then(() => seen.push('resumed'));
    const state = watch(resumed);
    await settle();
    resumes[0]?.answer({ marker: true });
    await settle();
    expect(state.settled).toBe('no');
    source.emit('event', { stream: 'a', seq: 1, data: 'x' });
    source.emit('event', { stream: 'a', seq: 2, data: 'y' });
    await settle();
    expect(state.settled).toBe('no');
    source.emit('resumed', { resumeId: '1' });
    await settle();
    expect(state.settled).toBe('resolved');
    expect(frames).toEqual([
      { stream: 'a', seq: 1, data: 'x' },
      { stream: 'a', seq: 2, data: 'y' },
    ]);
    expect(seen).toEqual(['open', 'message', 'message', 'resumed']);
  });

  it('the marker before the 200: resolves at the 200', async () => {
    const { fetch, resumes } = held();
    const { link, source } = open(fetch, {}, {}, V2_WELCOME, SESSION);
    const state = watch(link.resume([{ stream: 'a', seq: 0 }]));
    await settle();
    source.emit('event', { stream: 'a', seq: 1, data: 'x' });
    source.emit('resumed', { resumeId: '1' });
    await settle();
    expect(state.settled).toBe('no');
    resumes[0]?.answer({ marker: true });
    await settle();
    expect(state.settled).toBe('resolved');
  });

  it('overlapping resumes are each settled by their own marker, in any order', async () => {
    const { fetch, resumes } = held();
    const { link, source } = open(fetch, {}, {}, V2_WELCOME, SESSION);
    const first = watch(link.resume([{ stream: 'a', seq: 0 }]));
    const second = watch(link.resume([{ stream: 'b', seq: 0 }]));
    await settle();
    resumes[1]?.answer({ marker: true });
    resumes[0]?.answer({ marker: true });
    source.emit('resumed', { resumeId: '2' });
    await settle();
    expect([first.settled, second.settled]).toEqual(['no', 'resolved']);
    source.emit('resumed', { resumeId: '1' });
    await settle();
    expect([first.settled, second.settled]).toEqual(['resolved', 'resolved']);
  });

  it.each([
    ['a v1 server (no session in its welcome) answering {}', { connectionId: 'c1' }, {}],
    ['a server that promises no marker', V2_WELCOME, {}],
    ['a server whose marker field is not true', V2_WELCOME, { marker: 'yes' }],
    ['a server whose answer has no JSON body', V2_WELCOME, undefined],
  ])('%s: resolves at the 200, as before markers', async (_what, welcome, body) => {
    const { fetch, resumes } = held();
    const { link } = open(fetch, {}, {}, welcome, SESSION);
    const state = watch(link.resume([{ stream: 'a', seq: 0 }]));
    await settle();
    resumes[0]?.answer(body);
    await settle();
    expect(state.settled).toBe('resolved');
  });

  it('a marker for no resume in flight is ignored: kept nowhere, settles nothing, ends nothing', async () => {
    const { fetch, resumes } = held();
    const { link, source, closes } = open(fetch, {}, {}, V2_WELCOME, SESSION);
    // Before any resume, for an id never used, and many of them: nothing is kept for later.
    for (let i = 0; i < 1000; i++) source.emit('resumed', { resumeId: String(i) });
    const state = watch(link.resume([{ stream: 'a', seq: 0 }]));
    await settle();
    source.emit('resumed', { resumeId: '2' });
    source.emit('resumed', { resumeId: 'x'.repeat(10_000) });
    resumes[0]?.answer({ marker: true });
    await settle();
    // resumeId "1" came before this resume existed: it was not kept for it.
    expect(state.settled).toBe('no');
    source.emit('resumed', { resumeId: '1' });
    await settle();
    expect(state.settled).toBe('resolved');
    // Its marker again, once it is done: ignored too.
    source.emit('resumed', { resumeId: '1' });
    expect(closes).toEqual([]);
  });

  it.each([
    ['without a resumeId', '{}'],
    ['whose resumeId is a number', '{"resumeId":1}'],
    ['whose resumeId is null', '{"resumeId":null}'],
    ['whose data is not JSON', '{nope'],
    ['whose data is not an object', '["1"]'],
  ])('a resumed event %s is a protocol close, never a throw into EventSource', (_what, text) => {
    const { source, closes } = open(confirming().fetch, {}, {}, V2_WELCOME, SESSION);
    expect(() => source.emitRaw('resumed', text)).not.toThrow();
    expect(source.closed).toBe(true);
    expect(closes).toMatchObject([{ protocol: true }]);
  });

  it('a resumed event before welcome is a protocol close', () => {
    const { source, closes } = open(confirming().fetch, {}, {}, null, SESSION);
    source.emit('resumed', { resumeId: '1' });
    expect(closes).toMatchObject([{ protocol: true, reason: 'a resumed event before welcome' }]);
  });

  it('a link that ends while a resume waits for its marker rejects it: closed by the server, or by close()', async () => {
    const { fetch, resumes } = held();
    const dropped = open(fetch, {}, {}, V2_WELCOME, SESSION);
    const byServer = watch(dropped.link.resume([{ stream: 'a', seq: 0 }]));
    const closed = open(fetch, {}, {}, V2_WELCOME, SESSION);
    const byClient = watch(closed.link.resume([{ stream: 'a', seq: 0 }]));
    await settle();
    resumes[0]?.answer({ marker: true });
    resumes[1]?.answer({ marker: true });
    await settle();
    expect([byServer.settled, byClient.settled]).toEqual(['no', 'no']);
    dropped.source.emit('error');
    closed.link.close();
    await settle();
    expect([byServer.settled, byClient.settled]).toEqual(['rejected', 'rejected']);
    expect((byServer.error as Error).message).toBe('the event stream is not open');
    // A marker after the end changes nothing and reports nothing.
    dropped.source.emit('resumed', { resumeId: '1' });
    expect(dropped.closes).toHaveLength(1);
  });

  it('a link that ends while the 200 is on its way: the resume rejects, whatever the answer promised', async () => {
    const { fetch, resumes } = held();
    const { link, source } = open(fetch, {}, {}, V2_WELCOME, SESSION);
    const state = watch(link.resume([{ stream: 'a', seq: 0 }]));
    await settle();
    source.emit('error');
    resumes[0]?.answer({ marker: true });
    await settle();
    expect(state.settled).toBe('rejected');
  });
});
