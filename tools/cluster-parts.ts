/**
 * Real parts for running the reference server on several processes, shared by the
 * cluster tests (`test/support/redis-server.ts` re-exports `startRedis`) and the soak
 * (`npm run soak -- --redis`): Debian's `redis-server` on a free port in a temporary
 * folder without persistence, and Debian's `haproxy` with the shipped
 * `deploy/haproxy.cfg`. Each handle exposes its process so a caller can kill it on its
 * own exit paths (Ctrl-C) too; `stop()` kills it and waits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection as connectTcp, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where Debian installs them; /usr/sbin is missing from many non-root PATHs. */
export const REDIS_SERVER = '/usr/bin/redis-server';
export const HAPROXY = '/usr/sbin/haproxy';

/** What is missing to run a cluster, each with the Debian package that brings it. */
export function missingParts(): string[] {
  const missing: string[] = [];
  if (!existsSync(REDIS_SERVER))
    missing.push(
      `${REDIS_SERVER} not found: install Debian's redis-server package (apt-get install redis-server)`,
    );
  if (!existsSync(HAPROXY))
    missing.push(
      `${HAPROXY} not found: install Debian's haproxy package (apt-get install haproxy)`,
    );
  return missing;
}

/** A port nothing listens on now (for a process that cannot be told to use port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createTcpServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on `port`. */
export async function accepting(port: number, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connectTcp(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`${what} never listened on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** SIGKILL a process and wait until it is gone. */
export function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** The redis-server process. */
  readonly process: ChildProcess;
  /** Its working folder, removed by `stop()`. */
  readonly dir: string;
  stop(): Promise<void>;
}

/** Debian's redis-server (or the binary at `server`) on a free port, without persistence. */
export async function startRedis(server = REDIS_SERVER): Promise<RedisServer> {
  if (!existsSync(server))
    throw new Error(
      `${server} not found: install Debian's redis-server (apt-get install redis-server); .ci/run does`,
    );
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-redis-'));
  const port = await freePort();
  const child = spawn(
    server,
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
  const stop = async () => {
    await killProcess(child);
    rmSync(dir, { recursive: true, force: true });
  };
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
  return { url: `redis://127.0.0.1:${port}`, port, process: child, dir, stop };
}

export interface Haproxy {
  /** Its frontend: `127.0.0.1:port`. */
  readonly port: number;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/** The shipped config, found from this file so it works from any working directory. */
const HAPROXY_CFG = fileURLToPath(new URL('../deploy/haproxy.cfg', import.meta.url));
/** `deploy/haproxy.cfg` names this many servers (HOLDFAST_NODE_1..3). */
export const HAPROXY_SERVERS = 3;

/**
 * haproxy with `deploy/haproxy.cfg` on a free port, in front of `nodes` (`host:port`,
 * 1 to 3 of them; with fewer than the config's 3 server lines, the last repeats, which
 * only weighs it more in the round robin). Resolves once it accepts connections.
 */
export async function startHaproxy(nodes: readonly string[]): Promise<Haproxy> {
  if (nodes.length < 1 || nodes.length > HAPROXY_SERVERS)
    throw new RangeError(`deploy/haproxy.cfg fronts 1 to ${HAPROXY_SERVERS} processes`);
  if (!existsSync(HAPROXY))
    throw new Error("haproxy not found: install Debian's (apt-get install haproxy)");
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    ...process.env,
    HOLDFAST_BIND: `127.0.0.1:${port}`,
  };
  for (let i = 0; i < HAPROXY_SERVERS; i++)
    env[`HOLDFAST_NODE_${i + 1}`] = nodes[Math.min(i, nodes.length - 1)];
  // -db: stay in the foreground, so the process is ours to kill.
  const child = spawn(HAPROXY, ['-db', '-f', HAPROXY_CFG], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = () => killProcess(child);
  try {
    await accepting(port, 'haproxy');
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, process: child, stop };
}
