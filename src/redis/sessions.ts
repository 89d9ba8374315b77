/**
 * Sessions in Redis (scale-out.md §2, sessions.md §3): per (principal, session) key, the
 * highest serial taken and the last 1,024 refusals, expiring `sessionTtlMs` after the last
 * message. Taking a message is two steps so that a crash cannot lose it: `claim` the
 * session with a short lease (atomically), hand the message to the app, then `commit`.
 * A claim that finds a live lease of another process is answered `busy` (the client is
 * told to retry); one that finds an expired lease takes the message again — at least
 * once inside that crash window, which docs/scale-out.md states.

 */
import { type RedisLike, run, type Script } from './scripts.js';

/** Refusals kept per session, as the in-memory store keeps them. */
export const REFUSALS_KEPT = 1024;

/** What a claim found. */
export type Claim =
  /** Not taken yet, and now leased to this claim: hand it to the app, then commit. */
  | { readonly fresh: true; readonly lease: string }
  /** Taken before: answer with its first verdict (a refusal while it is remembered). */
  | { readonly fresh: false; readonly refusal?: string }
  /** Another process holds the session's lease: answer `retry` after about this long. */
  | { readonly busy: true; readonly retryAfterMs: number };

/**
 * KEYS session, refusals, lease; ARGV serial, token, leaseMs, ttlMs. The token is this
 * claim's own: any lease still held, by another process or another claim of this one, is
 * busy. A duplicate restarts the session's expiry, as a message does.
 */
const CLAIM = `
local serial = tonumber(ARGV[1])
local taken = tonumber(redis.call('HGET', KEYS[1], 'taken') or '0')
if serial <= taken then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
  local prefix = ARGV[1] .. '|'
  for _, refusal in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
    if string.sub(refusal, 1, #prefix) == prefix then
      return {'taken', string.sub(refusal, #prefix + 1)}
    end
  end
  return {'taken'}
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {'busy', redis.call('PTTL', KEYS[3])}
end
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
return {'fresh'}
`;

/** KEYS session, refusals, lease; ARGV serial, the claim's lease token, ttlMs, refused ('1' or ''), error. */
const COMMIT = `
local serial = tonumber(ARGV[1])
local taken = tonumber(redis.call('HGET', KEYS[1], 'taken') or '0')
if serial > taken then redis.call('HSET', KEYS[1], 'taken', serial) end
if ARGV[4] == '1' then
  redis.call('LPUSH', KEYS[2], ARGV[1] .. '|' .. ARGV[5])
  redis.call('LTRIM', KEYS[2], 0, ${REFUSALS_KEPT - 1})
end
if redis.call('GET', KEYS[3]) == ARGV[2] then redis.call('DEL', KEYS[3]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return 1
`;

/**
 * KEYS session, refusals, lease; ARGV ttlMs. Returns { taken, 1 if a claim holds the
 * lease }. A known session's expiry starts again, as a message's does: its client is
 * about to resend on the strength of this answer.
 */
const VIEW = `
local taken = tonumber(redis.call('HGET', KEYS[1], 'taken') or '0')
if taken > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
end
return {taken, redis.call('EXISTS', KEYS[3])}
`;

export interface RedisSessionsOptions {
  readonly prefix: string;
  readonly leaseMs: number;
  readonly ttlMs: number;
}

export class RedisSessions {
  private readonly claimScript: Script = { source: CLAIM };
  private readonly commitScript: Script = { source: COMMIT };
  private readonly viewScript: Script = { source: VIEW };

  constructor(
    private readonly redis: RedisLike,
    private readonly options: RedisSessionsOptions,
  ) {}

  private keys(key: string): string[] {
    const { prefix } = this.options;
    return [`${prefix}:s:${key}`, `${prefix}:r:${key}`, `${prefix}:k:${key}`];
  }

  /**
   * What a `welcome` says of the session: known, and the highest serial taken. A session
   * whose first message an app is handling now (its lease is held) is known too: a link
   * that drops meanwhile must not make its client report a `session-lost` that is not.
   */
  async view(key: string): Promise<{ known: boolean; handled: number }> {
    const reply = await run(this.redis, this.viewScript, this.keys(key), [
      String(this.options.ttlMs),
    ]);
    const [taken, leased] = Array.isArray(reply) ? reply : [];
    const handled = Number(taken ?? 0);
    if (!Number.isSafeInteger(handled) || handled < 0)
      throw new TypeError(`holdfast/redis: the view script answered ${JSON.stringify(reply)}`);
    return { known: handled > 0 || leased === 1, handled };
  }

  async claim(key: string, serial: number): Promise<Claim> {
    const { leaseMs, ttlMs } = this.options;
    // One token per claim: a commit releases only the lease its own claim took.
    const lease = globalThis.crypto.randomUUID();
    const reply = await run(this.redis, this.claimScript, this.keys(key), [
      String(serial),
      lease,
      String(leaseMs),
      String(ttlMs),
    ]);
    const [what, detail] = Array.isArray(reply) ? reply : [];
    if (what === 'fresh') return { fresh: true, lease };
    if (what === 'taken')
      return typeof detail === 'string' ? { fresh: false, refusal: detail } : { fresh: false };
    if (what === 'busy')
      return {
        busy: true,
        retryAfterMs: typeof detail === 'number' && detail > 0 ? detail : leaseMs,
      };
    throw new TypeError(`holdfast/redis: the claim script answered ${JSON.stringify(reply)}`);
  }

  /** The app's verdict on a claimed message: taken, refused with `error` if it refused. */
  async commit(key: string, serial: number, refusal?: string, lease = ''): Promise<void> {
    const { ttlMs } = this.options;
    await run(this.redis, this.commitScript, this.keys(key), [
      String(serial),
      lease,
      String(ttlMs),
      refusal === undefined ? '' : '1',
      refusal ?? '',
    ]);
  }
}
