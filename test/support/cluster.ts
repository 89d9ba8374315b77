/**
 * Real parts for the cluster tests: reference-server processes and Debian's `haproxy`
 * in front of them with the shipped `deploy/haproxy.cfg`, each started on free ports on
 * 127.0.0.1 and killed by `stop()`.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { accepting, freePort } from '../../tools/cluster-parts.js';
import { bundleChild } from './child-bundle.js';

export { freePort };

/** What a node process tells the test. */
export type NodeReport =
  | { type: 'listening'; port: number }
  | { type: 'handed'; node: string; id: string; data: unknown; session?: string; serial?: number }
  | { type: 'published'; node: string; stream: string; seq: number }
  | { type: 'error'; node: string; during: string; error: string };

export interface ServerNode {
  readonly name: string;
  readonly port: number;
  /** The process now (a new one after `restart`). */
  readonly process: ChildProcess;
  /** Its own address, past haproxy: `127.0.0.1:port`. */
  readonly address: string;
}

export interface ClusterOptions {
  /** Run every process on `redisStore` at this URL, under this key prefix. */
  readonly redis?: { readonly url: string; readonly prefix: string };
}

/** One message as a node's app wrote it to its arrivals file. */
export interface Arrival {
  readonly node: string;
  readonly id: string;
  readonly session?: string;
  readonly serial?: number;
}

export interface Cluster {
  readonly nodes: readonly ServerNode[];
  /** haproxy's address: `http://127.0.0.1:port`. */
  readonly url: string;
  /** Every message a node's app was handed, in the order the reports came. */
  readonly handed: Array<Extract<NodeReport, { type: 'handed' }>>;
  /** What the nodes reported through `onError` (the store's errors among them). */
  readonly errors: Array<Extract<NodeReport, { type: 'error' }>>;
  /** Publish on one node (by index); resolves with the seq once that node logged it. */
  publish(node: number, stream: string, data: unknown): Promise<number>;
  /** Every node's arrivals file, read now, in the order each node wrote it. */
  arrivals(): Arrival[];
  /** Drop every link of one node (by index): its clients reconnect. */
  dropAll(node: number): void;
  /** SIGKILL one node (by index). */
  kill(node: number): Promise<void>;
  /** Start a killed node again on its port. */
  restart(node: number): Promise<void>;
  stop(): Promise<void>;
}

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Debian's haproxy: in /usr/sbin, which a non-root PATH may lack. */
function haproxyPath(): string {
  if (existsSync('/usr/sbin/haproxy')) return '/usr/sbin/haproxy';
  throw new Error("haproxy not found: install Debian's (apt-get install haproxy); .ci/run does");
}

/** `count` server processes and haproxy in front of them. */
export async function startCluster(count = 3, options: ClusterOptions = {}): Promise<Cluster> {
  const folder = mkdtempSync(join(tmpdir(), 'holdfast-cluster-'));
  const script = join(folder, 'node-process.mjs');
  await bundleChild(new URL('../cluster/node-process.ts', import.meta.url), script);
  const handed: Cluster['handed'] = [];
  const errors: Cluster['errors'] = [];
  const published: Array<Extract<NodeReport, { type: 'published' }>> = [];
  const nodes: Array<{ name: string; port: number; process: ChildProcess; address: string }> = [];
  let haproxy: ChildProcess | undefined;
  const stop = async () => {
    const all = [...nodes.map((n) => n.process), ...(haproxy ? [haproxy] : [])];
    await Promise.all(all.map(kill));
    rmSync(folder, { recursive: true, force: true });
  };
  const redisArgs = options.redis ? [options.redis.url, options.redis.prefix] : [];
  const launch = async (name: string, port: number) => {
    const child = fork(script, [name, String(port), ...redisArgs], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, HOLDFAST_ARRIVALS: join(folder, `${name}.arrivals`) },
    });
    const bound = await new Promise<number>((resolve, reject) => {
      child.on('message', (report: NodeReport) => {
        if (report.type === 'listening') resolve(report.port);
        if (report.type === 'handed') handed.push(report);
        if (report.type === 'error') errors.push(report);
        if (report.type === 'published') published.push(report);
      });
      child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before listening`)));
    });
    return { child, bound };
  };
  try {
    for (let i = 1; i <= count; i++) {
      const name = `n${i}`;
      const { child, bound } = await launch(name, 0);
      nodes.push({ name, port: bound, process: child, address: `127.0.0.1:${bound}` });
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
    const at = (index: number) => {
      const node = nodes[index];
      if (node === undefined) throw new Error(`no node ${index}`);
      return node;
    };
    return {
      nodes,
      url: `http://127.0.0.1:${port}`,
      handed,
      errors,
      stop,
      async publish(index, stream, data) {
        const node = at(index);
        const before = published.length;
        node.process.send({ type: 'publish', stream, data });
        const until = Date.now() + 10_000;
        for (;;) {
          const report = published
            .slice(before)
            .find((p) => p.node === node.name && p.stream === stream);
          if (report !== undefined) return report.seq;
          if (Date.now() > until) throw new Error(`${node.name} never published on ${stream}`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      },
      arrivals: () =>
        nodes.flatMap((node) => {
          const file = join(folder, `${node.name}.arrivals`);
          if (!existsSync(file)) return [];
          // A line cut short by a SIGKILL is not an arrival the app returned from.
          return readFileSync(file, 'utf8')
            .split('\n')
            .filter((line) => line.endsWith('}'))
            .map((line) => JSON.parse(line) as Arrival);
        }),
      dropAll: (index) => {
        at(index).process.send({ type: 'drop-all' });
      },
      kill: (index) => kill(at(index).process),
      async restart(index) {
        const node = at(index);
        const { child } = await launch(node.name, node.port);
        node.process = child;
      },
    };
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
