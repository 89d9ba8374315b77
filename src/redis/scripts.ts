/**
 * How holdfast talks to Redis: the few commands of a node-redis client it uses, and Lua
 * scripts run by SHA once Redis knows them (EVALSHA, then EVAL on NOSCRIPT), so an app's
 * own client needs no setup.
 */

/** The part of a node-redis client holdfast uses. */
export interface RedisLike {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** A Lua script and, once known, its SHA. */
export interface Script {
  readonly source: string;
  sha?: string;
}

/** One script, run by its SHA once Redis knows it (EVALSHA, EVAL on NOSCRIPT). */
export async function run(
  redis: RedisLike,
  script: Script,
  keys: string[],
  args: string[],
): Promise<unknown> {
  if (script.sha !== undefined) {
    try {
      return await redis.evalSha(script.sha, { keys, arguments: args });
    } catch (error) {
      if (!String(error).includes('NOSCRIPT')) throw error;
    }
  }
  const result = await redis.eval(script.source, { keys, arguments: args });
  script.sha ??= await sha1(script.source);
  return result;
}

async function sha1(text: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-1', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
