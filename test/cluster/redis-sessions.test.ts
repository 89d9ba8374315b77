/**
 * Sessions in Debian's redis-server (src/redis/sessions.ts, scale-out.md §2): a serial is
 * handed over once across processes, a duplicate gets its first verdict, a live lease of
 * another process answers busy and an expired one lets the message be taken again, and
 * what Redis keeps per session is bounded and expires.
 */
import { describe, expect, it } from 'vitest';
import type { RedisLike } from '../../src/redis/scripts.js';
import { REFUSALS_KEPT, RedisSessions } from '../../src/redis/sessions.js';
import { redisForThisFile } from '../support/redis-server.js';

type Client = RedisLike & {
  hGet(key: string, field: string): Promise<unknown>;
  lLen(key: string): Promise<number>;
  exists(key: string): Promise<number>;
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

/** One process's view of the sessions: its own client. */
async function processSessions(prefix: string, leaseMs = 5_000, ttlMs = 60_000) {
  const client = (await redis.client()) as unknown as Client;
  return { client, sessions: new RedisSessions(client, { prefix, leaseMs, ttlMs }) };
}

/** Claim a serial, expecting it fresh, and commit it with its claim's lease. */
async function take(sessions: RedisSessions, key: string, serial: number, refusal?: string) {
  const claim = await sessions.claim(key, serial);
  if (!('fresh' in claim) || !claim.fresh) throw new Error(`${key} ${serial}: not fresh`);
  expect(claim.lease).toMatch(/^[0-9a-f-]{36}$/);
  await sessions.commit(key, serial, refusal, claim.lease);
}

describe('sessions in Redis', () => {
  it('a serial is claimed once; once committed, every process answers it with its first verdict', async () => {
    const a = (await processSessions('s1')).sessions;
    const b = (await processSessions('s1')).sessions;
    await take(a, 'alice', 1);
    expect(await b.claim('alice', 1)).toEqual({ fresh: false });
    await take(b, 'alice', 2, 'no room');
    expect(await a.claim('alice', 2)).toEqual({ fresh: false, refusal: 'no room' });
    expect(await a.view('alice')).toEqual({ known: true, handled: 2 });
    expect(await a.view('bob')).toEqual({ known: false, handled: 0 });
  });

  it('a live lease of another process answers busy; once it lapses the message can be taken again (the crash window)', async () => {
    const a = (await processSessions('s2', 300)).sessions;
    const b = (await processSessions('s2', 300)).sessions;
    expect(await a.claim('carol', 1)).toMatchObject({ fresh: true });
    // Being handed over, its first message: the session is known, nothing taken yet.
    expect(await b.view('carol')).toEqual({ known: true, handled: 0 });
    // a "crashes" here: it never commits.
    const busy = await b.claim('carol', 1);
    expect(busy).toMatchObject({ busy: true });
    expect((busy as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(300);
    const lapsed = await eventually(
      () => b.claim('carol', 1),
      (claim) => 'fresh' in claim && claim.fresh,
      'the lease to lapse',
    );
    await b.commit('carol', 1, undefined, 'lease' in lapsed ? lapsed.lease : undefined);
    expect(await a.claim('carol', 1)).toEqual({ fresh: false });
  });

  it('refusals kept are bounded: past the last 1,024 an old refused serial is answered ok', async () => {
    const { client, sessions } = await processSessions('s3');
    for (let serial = 1; serial <= REFUSALS_KEPT + 10; serial++) {
      await take(sessions, 'dave', serial, `refused ${serial}`);
    }
    expect(await client.lLen('s3:r:dave')).toBe(REFUSALS_KEPT);
    expect(await sessions.claim('dave', 1)).toEqual({ fresh: false });
    expect(await sessions.claim('dave', REFUSALS_KEPT + 10)).toEqual({
      fresh: false,
      refusal: `refused ${REFUSALS_KEPT + 10}`,
    });
  });

  it('a session expires sessionTtlMs after its last commit', async () => {
    const { client, sessions } = await processSessions('s4', 5_000, 200);
    await take(sessions, 'erin', 1);
    expect(await sessions.view('erin')).toEqual({ known: true, handled: 1 });
    // Watched without a welcome (which would restart its expiry, as a message does).
    await eventually(
      () => client.exists('s4:s:erin'),
      (exists) => exists === 0,
      'the session to expire',
    );
    expect(await sessions.view('erin')).toEqual({ known: false, handled: 0 });
  });

  it("a lease is per claim: a second claim of a session while the first is out is busy, even in the same process, and only the first claim's commit frees it", async () => {
    const { client, sessions } = await processSessions('s5');
    const first = await sessions.claim('fay', 1);
    expect(first).toMatchObject({ fresh: true });
    expect(await sessions.claim('fay', 1)).toMatchObject({ busy: true });
    // A commit with another claim's lease takes the serial but leaves the lease held.
    await sessions.commit('fay', 1, undefined, 'not-the-lease');
    expect(await client.exists('s5:k:fay')).toBe(1);
    await sessions.commit('fay', 1, undefined, 'lease' in first ? first.lease : undefined);
    expect(await client.exists('s5:k:fay')).toBe(0);
    await take(sessions, 'fay', 2);
  });

  it('a welcome and a duplicate restart the session’s expiry, as a message does: a resend allowed by "known" is still a duplicate', async () => {
    const { sessions } = await processSessions('s6', 5_000, 400);
    await take(sessions, 'gus', 1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await sessions.view('gus')).toEqual({ known: true, handled: 1 });
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await sessions.claim('gus', 1)).toEqual({ fresh: false });
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await sessions.claim('gus', 1)).toEqual({ fresh: false });
  });
});
