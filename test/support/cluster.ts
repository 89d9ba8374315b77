/**
 * Real parts for the cluster tests: reference-server processes and Debian's `haproxy`
 * in front of them with the shipped `deploy/haproxy.cfg`, each started on free ports on
 * 127.0.0.1 and killed by `stop()`.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection as connectTcp, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleChild } from './child-bundle.js';

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
async function accepting(port: number, what: string, timeoutMs = 10_000): Promise<void> {
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

/** What a node process tells the test. */
export type NodeReport =
  | { type: 'listening'; port: number }
  | { type: 'handed'; node: string; id: string; data: unknown };

export interface ServerNode {
  readonly name: string;
  readonly port: number;
  readonly process: ChildProcess;
}

export interface Cluster {
  readonly nodes: readonly ServerNode[];
  /** haproxy's address: `http://127.0.0.1:port`. */
  readonly url: string;
  /** Every message a node's app was handed, in the order the reports came. */
  readonly handed: Array<{ node: string; id: string; data: unknown }>;
  stop(): Promise<void>;
}

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Debian's haproxy: in /usr/sbin, which a non-root PATH may lack. */
function haproxyPath(): string {
  if (existsSync('/usr/sbin/haproxy')) return '/usr/sbin/haproxy';
  throw new Error("haproxy not found: install Debian's (apt-get install haproxy); .ci/run does");
}

/** `count` server processes and haproxy in front of them. */
export async function startCluster(count = 3): Promise<Cluster> {
  const folder = mkdtempSync(join(tmpdir(), 'holdfast-cluster-'));
  const script = join(folder, 'node-process.mjs');
  await bundleChild(new URL('../cluster/node-process.ts', import.meta.url), script);
  const handed: Cluster['handed'] = [];
  const nodes: ServerNode[] = [];
  let haproxy: ChildProcess | undefined;
  const stop = async () => {
    const all = [...nodes.map((n) => n.process), ...(haproxy ? [haproxy] : [])];
    await Promise.all(all.map(kill));
    rmSync(folder, { recursive: true, force: true });
  };
  try {
    for (let i = 1; i <= count; i++) {
      const name = `n${i}`;
      const child = fork(script, [name], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const port = await new Promise<number>((resolve, reject) => {
        child.on('message', (report: NodeReport) => {
          if (report.type === 'listening') resolve(report.port);
          if (report.type === 'handed') handed.push(report);
        });
        child.once('exit', (code) =>
          reject(new Error(`${name} exited (${code}) before listening`)),
        );
      });
      nodes.push({ name, port, process: child });
    }
    const port = await freePort();
    const env: Record<string, string> = {
      ...process.env,
      HOLDFAST_BIND: `127.0.0.1:${port}`,
    } as Record<string, string>;
    for (const [i, node] of nodes.entries())
      env[`HOLDFAST_NODE_${i + 1}`] = `127.0.0.1:${node.port}`;
    haproxy = spawn(haproxyPath(), ['-db', '-f', join(root, 'deploy/haproxy.cfg')], {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await accepting(port, 'haproxy');
    return { nodes, url: `http://127.0.0.1:${port}`, handed, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
