/**
 * What a process reads from a stream's Redis channel (src/redis/fan-out.ts): only
 * `epoch|seq|json` as the append script writes it; anything else is not an event.
 */
import { describe, expect, it } from 'vitest';
import { parseLive } from '../src/redis/fan-out.js';

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
