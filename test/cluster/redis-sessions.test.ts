/**
 * Sessions in Debian's redis-server (src/redis/sessions.ts, scale-out.md §2): a serial is
 * handed over once across processes, a duplicate gets its first verdict, a live lease of
 * another process answers busy and an expired one lets the message be taken again, and
 * what Redis keeps per session is bounded and expires.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RedisLike } from '../../src/redis/scripts.js';
import { REFUSALS_KEPT, RedisSessions } from '../../src/redis/sessions.js';
import { redisForThisFile } from '../support/redis-server.js';

type Client = RedisLike & {
  hGet(key: string, field: string): Promise<unknown>;
  lLen(key: string): Promise<number>;
};

const redis = redisForThisFile();

/** `ask` again every 20 ms until its answer passes `ok` (Redis expires keys in real time). */
async function eventually<T>(ask: () => Promise<T>, ok: (answer: T) => boolean, what: string) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const answer = await ask();
    if (ok(answer)) return answer;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One process's view of the sessions: its own client and lease token. */
async function processSessions(prefix: string, leaseMs = 5_000, ttlMs = 60_000) {
  const client = (await redis.client()) as unknown as Client;
  return {
    client,
    sessions: new RedisSessions(client, { prefix, token: randomUUID(), leaseMs, ttlMs }),
  };
}

describe('sessions in Redis', () => {
  it('a serial is claimed once; once committed, every process answers it with its first verdict', async () => {
    const a = (await processSessions('s1')).sessions;
    const b = (await processSessions('s1')).sessions;
    expect(await a.claim('alice', 1)).toEqual({ fresh: true });
    await a.commit('alice', 1);
    expect(await b.claim('alice', 1)).toEqual({ fresh: false });
    expect(await b.claim('alice', 2)).toEqual({ fresh: true });
    await b.commit('alice', 2, 'no room');
    expect(await a.claim('alice', 2)).toEqual({ fresh: false, refusal: 'no room' });
    expect(await a.view('alice')).toEqual({ known: true, handled: 2 });
    expect(await a.view('bob')).toEqual({ known: false, handled: 0 });
  });

  it('a live lease of another process answers busy; once it lapses the message can be taken again (the crash window)', async () => {
    const a = (await processSessions('s2', 300)).sessions;
    const b = (await processSessions('s2', 300)).sessions;
    expect(await a.claim('carol', 1)).toEqual({ fresh: true });
    // a "crashes" here: it never commits.
    const busy = await b.claim('carol', 1);
    expect(busy).toMatchObject({ busy: true });
    expect((busy as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(300);
    await eventually(
      () => b.claim('carol', 1),
      (claim) => 'fresh' in claim && claim.fresh,
      'the lease to lapse',
    );
    await b.commit('carol', 1);
    expect(await a.claim('carol', 1)).toEqual({ fresh: false });
  });

  it('refusals kept are bounded: past the last 1,024 an old refused serial is answered ok', async () => {
    const { client, sessions } = await processSessions('s3');
    for (let serial = 1; serial <= REFUSALS_KEPT + 10; serial++) {
      expect(await sessions.claim('dave', serial)).toEqual({ fresh: true });
      await sessions.commit('dave', serial, `refused ${serial}`);
    }
    expect(await client.lLen('s3:r:dave')).toBe(REFUSALS_KEPT);
    expect(await sessions.claim('dave', 1)).toEqual({ fresh: false });
    expect(await sessions.claim('dave', REFUSALS_KEPT + 10)).toEqual({
      fresh: false,
      refusal: `refused ${REFUSALS_KEPT + 10}`,
    });
  });

  it('a session expires sessionTtlMs after its last commit', async () => {
    const { sessions } = await processSessions('s4', 5_000, 200);
    await sessions.claim('erin', 1);
    await sessions.commit('erin', 1);
    expect(await sessions.view('erin')).toEqual({ known: true, handled: 1 });
    await eventually(
      () => sessions.view('erin'),
      (view) => !view.known,
      'the session to expire',
    );
  });
});
