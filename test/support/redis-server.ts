/**
 * Debian's `redis-server` for the tests: started on a free port of 127.0.0.1 in a
 * temporary folder, without persistence, and killed (its folder removed) by `stop()`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { afterAll, beforeAll } from 'vitest';
import { freePort } from './cluster.js';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  if (!existsSync('/usr/bin/redis-server'))
    throw new Error(
      "redis-server not found: install Debian's (apt-get install redis-server); .ci/run does",
    );
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-redis-'));
  const port = await freePort();
  const child = spawn(
    '/usr/bin/redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const stop = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        rmSync(dir, { recursive: true, force: true });
        resolve();
      };
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', done);
      child.kill('SIGKILL');
    });
  try {
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not start:\n${seen}`)),
        10_000,
      );
      child.stdout?.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}):\n${seen}`));
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  // Its log is not ours to print; keep the pipe drained so it never blocks.
  child.stdout?.resume();
  return { url: `redis://127.0.0.1:${port}`, port, stop };
}

/**
 * One redis-server for a test file (started before its tests, stopped after them) and
 * node-redis clients on it, each closed after the tests.
 */
export function redisForThisFile() {
  let server: RedisServer | undefined;
  const clients: Array<{ close(): Promise<unknown> }> = [];
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    for (const client of clients.splice(0)) await client.close();
    await server?.stop();
  });
  return {
    /** A connected client; cast it to the `*Like` interface the code under test takes. */
    async client() {
      if (server === undefined)
        throw new Error('redisForThisFile(): redis-server is not started yet');
      const c = createClient({ url: server.url });
      await c.connect();
      clients.push(c);
      return c;
    },
  };
}
