/**
 * What a process reads from a stream's Redis channel (src/redis/fan-out.ts): only
 * `epoch|seq|json` as the append script writes it; anything else is not an event. And
 * how the fan-out copes with its subscriber failing, over a subscriber of the test's own.
 */
import { describe, expect, it } from 'vitest';
import { parseLive, RedisFanOut, type SubscriberLike } from '../src/redis/fan-out.js';

/** A subscriber whose next subscribe fails while `failing` is set. */
function subscriber() {
  const channels = new Map<string, (message: string, channel: string) => void>();
  const fake = {
    failing: false,
    channels,
    subscribe: async (channel: string, listener: (message: string, channel: string) => void) => {
      if (fake.failing) throw new Error('SUBSCRIBE failed');
      channels.set(channel, listener);
    },
    unsubscribe: async (channel: string, _listener: unknown) => {
      channels.delete(channel);
    },
  };
  return fake;
}

describe('a live message from Redis', () => {
  it('parseLive reads only epoch|seq|json', () => {
    expect(parseLive('s', 'e1|3|{"a":1}')).toEqual({
      stream: 's',
      epoch: 'e1',
      seq: 3,
      json: '{"a":1}',
    });
    expect(parseLive('s', 'e1|3|a|b')).toMatchObject({ json: 'a|b' });
    for (const bad of ['', '|1|x', 'e||x', 'e|0|x', 'e|-1|x', 'e|1.5|x', 'noseparators', 42])
      expect(parseLive('s', bad)).toBeUndefined();
  });
});

describe('the fan-out over a subscriber that fails', () => {
  it('a subscription that fails is forgotten: that watch rejects, and the next watch of the stream subscribes again', async () => {
    const sub = subscriber();
    const fanOut = new RedisFanOut(sub as SubscriberLike, 'p');
    sub.failing = true;
    await expect(fanOut.watch('s', () => {})).rejects.toThrow('SUBSCRIBE failed');
    expect(fanOut.streams).toBe(0);
    sub.failing = false;
    const seen: number[] = [];
    await fanOut.watch('s', (event) => seen.push(event.seq));
    sub.channels.get('p:c:s')?.('e|1|null', 'p:c:s');
    expect(seen).toEqual([1]);
  });

  it('a subscriber that reconnects (lostAll) tells every watcher of every stream that events may be lost', async () => {
    const sub = subscriber();
    const fanOut = new RedisFanOut(sub as SubscriberLike, 'p');
    const lost: string[] = [];
    await fanOut.watch(
      'a',
      () => {},
      () => lost.push('a1'),
    );
    await fanOut.watch(
      'a',
      () => {},
      () => lost.push('a2'),
    );
    const stop = await fanOut.watch(
      'b',
      () => {},
      () => lost.push('b'),
    );
    await stop();
    fanOut.lostAll();
    expect(lost.sort()).toEqual(['a1', 'a2']);
  });
});
