/**
 * A stream's log in Redis (scale-out.md §2): its events as a Redis Stream, entry id
 * `<seq>-1`, trimmed to about `replayWindow`; its meta (last seq, epoch) in a hash. One
 * script writes both, so the seq and the log never disagree, and publishes the event for
 * the other processes. A log whose meta is gone (a flush, an eviction) gets a new epoch
 * and its old entries are dropped: clients that were in the old log are told `reset`.

 */
import { newEpoch } from '../../adapters/session-store.js';
import type { StreamHead } from '../../adapters/transport.js';
import type { StoredEvent } from '../server/store.js';
import { type RedisLike, run, type Script } from './scripts.js';

/**
 * How long the meta of a stream nobody published to is kept after its last resume: a
 * week, longer than a link lives without resuming.
 */
const EMPTY_META_MS = 7 * 86_400_000;

/** The keys of one stream under `prefix`. */
export function streamKeys(prefix: string, stream: string) {
  return {
    meta: `${prefix}:m:${stream}`,
    log: `${prefix}:l:${stream}`,
    channel: `${prefix}:c:${stream}`,
  };
}

/**
 * KEYS meta, log, channel; ARGV json, maxlen, a fresh epoch. Returns { seq, epoch }.
 * A meta without an epoch is a log that was lost: it starts over under the fresh epoch.
 */
const APPEND = `
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[3]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
  if seq ~= 1 then
    redis.call('HSET', KEYS[1], 'seq', 1)
    seq = 1
  end
  redis.call('DEL', KEYS[2])
end
-- A meta a resume made for a stream nobody had published to expires; a log's does not.
if seq == 1 then redis.call('PERSIST', KEYS[1]) end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-1', 'd', ARGV[1])
redis.call('PUBLISH', KEYS[3], epoch .. '|' .. seq .. '|' .. ARGV[1])
return {seq, epoch}
`;

/**
 * KEYS meta, log; ARGV a fresh epoch, ms. Returns { seq, epoch }: a stream nobody
 * published to gets its epoch now, so a client that watched it empty is never told of a
 * reset that did not happen when its first event comes. That meta expires ARGV[2] ms
 * after the last resume of the stream unless it gets an event: names a client made up
 * cost Redis nothing for long.
 */
const HEAD = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
  redis.call('DEL', KEYS[2])
end
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
-- Renewed by every resume while nobody has published: only a name nobody watches goes.
if seq == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {seq, epoch}
`;

/**
 * KEYS meta, log; ARGV first entry id, count. Returns { epoch, entries }: one page of the
 * log with the epoch its seqs count in, read in one step so the two cannot disagree. A
 * log whose meta is gone has no epoch (false) and nothing to replay.
 */
const READ = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then return {false, {}} end
return {epoch, redis.call('XRANGE', KEYS[2], ARGV[1], '+', 'COUNT', ARGV[2])}
`;

/** An epoch as the protocol allows it (1–64 characters) and a live message can carry (no `|`). */
function isEpoch(epoch: string): boolean {
  return epoch.length >= 1 && epoch.length <= 64 && !epoch.includes('|');
}

/** What Redis answered a script with, checked: `[seq, epoch]`. */
function seqAndEpoch(reply: unknown, what: string): { seq: number; epoch: string } {
  const [seq, epoch] = Array.isArray(reply) ? reply : [];
  if (
    typeof seq !== 'number' ||
    !Number.isSafeInteger(seq) ||
    seq < 0 ||
    typeof epoch !== 'string' ||
    !isEpoch(epoch)
  )
    throw new TypeError(`holdfast/redis: ${what} answered ${JSON.stringify(reply)?.slice(0, 80)}`);
  return { seq, epoch };
}

export class RedisStreamLog {
  private readonly append: Script = { source: APPEND };
  private readonly headScript: Script = { source: HEAD };
  private readonly readScript: Script = { source: READ };

  constructor(
    private readonly redis: RedisLike,
    private readonly prefix: string,
    private readonly replayWindow: number,
  ) {}

  /** Append `json` to `stream`'s log: its seq and the epoch it counts in. */
  async publish(stream: string, json: string): Promise<StoredEvent> {
    const { meta, log, channel } = streamKeys(this.prefix, stream);
    const reply = await run(
      this.redis,
      this.append,
      [meta, log, channel],
      [json, String(this.replayWindow), newEpoch()],
    );
    const { seq, epoch } = seqAndEpoch(reply, 'the append script');
    return { stream, seq, json, epoch };
  }

  /** `stream`'s epoch and last seq; a stream never seen gets its epoch now. */
  async head(stream: string): Promise<StreamHead> {
    const { meta, log } = streamKeys(this.prefix, stream);
    const reply = await run(
      this.redis,
      this.headScript,
      [meta, log],
      [newEpoch(), String(EMPTY_META_MS)],
    );
    const { seq, epoch } = seqAndEpoch(reply, 'the head script');
    return { stream, epoch, head: seq };
  }

  /**
   * Up to `limit` events of `stream` after `afterSeq`, oldest first (one page of a
   * replay), each with the epoch of the log it was read from.
   */
  async after(stream: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    const { meta, log } = streamKeys(this.prefix, stream);
    const reply = await run(
      this.redis,
      this.readScript,
      [meta, log],
      [`${afterSeq + 1}-1`, String(limit)],
    );
    const [epoch, entries] = Array.isArray(reply) ? reply : [];
    if (typeof epoch !== 'string' || !Array.isArray(entries)) return [];
    if (!isEpoch(epoch))
      throw new TypeError(
        `holdfast/redis: the read script found the epoch ${JSON.stringify(epoch.slice(0, 80))}`,
      );
    const events: StoredEvent[] = [];
    for (const entry of entries) {
      const event = eventOf(stream, epoch, entry);
      // A record this module did not write is skipped, never replayed as an event.
      if (event !== undefined && event.seq > afterSeq) events.push(event);
    }
    return events;
  }
}

/** One XRANGE entry, `[id, [field, value, …]]` with id `<seq>-1` and field `d`, or undefined. */
function eventOf(stream: string, epoch: string, entry: unknown): StoredEvent | undefined {
  if (!Array.isArray(entry)) return undefined;
  const [id, fields] = entry as [unknown, unknown];
  if (typeof id !== 'string' || !Array.isArray(fields)) return undefined;
  // Ours are `<seq>-1`: an entry under any other id was written by someone else.
  if (!id.endsWith('-1')) return undefined;
  const seq = Number(id.slice(0, -2));
  if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
  for (let i = 0; i + 1 < fields.length; i += 2)
    if (fields[i] === 'd' && typeof fields[i + 1] === 'string')
      return { stream, seq, epoch, json: fields[i + 1] as string };
  return undefined;
}
