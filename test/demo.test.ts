/** The main job, end to end: `npm run demo` on real sockets, small and seeded. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { Console } from 'node:console';
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startChaos } from '../demo/chaos.js';
import type { ClientRun } from '../demo/client.js';
import { createServer } from '../src/server/index.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const demo = ['--import', 'tsx', 'demo/main.ts'];

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

function runDemo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [...demo, ...args],
      { cwd: repo, timeout: 60_000 },
      (error, stdout, stderr) => {
        children.delete(child);
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      },
    );
    children.add(child);
  });
}

/** A port nothing listens on just now, on every interface, as the inspector server binds. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The first line of `stream` that matches, or a rejection if the process exits first. */
function lineMatching(stream: Readable, pattern: RegExp, exited: Promise<unknown>) {
  return new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: stream });
    lines.on('line', (line) => {
      if (!pattern.test(line)) return;
      lines.close();
      resolve(line);
    });
    void exited.then((how) =>
      reject(new Error(`exited (${JSON.stringify(how)}) before printing ${pattern}`)),
    );
  });
}

function statusOf(url: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    // No keep-alive agent: nothing of the test's lingers on the demo's inspector server.
    get(url, { agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode);
    }).once('error', reject);
  });
}

describe('demo', () => {
  it('delivers every message once and in order over both transports under chaos, and prints only JSON on stdout with --json', async () => {
    const { code, stdout, stderr } = await runDemo([
      '--messages',
      '150',
      '--chaos',
      'heavy',
      '--seed',
      '7',
      '--json',
    ]);
    // The whole of stdout is the report: the timeline and the table went to stderr.
    const report = JSON.parse(stdout);
    expect(code).toBe(0);
    expect(report.clients.map((c: { transport: string }) => c.transport)).toEqual([
      'websocket',
      'sse',
    ]);
    for (const client of report.clients) {
      expect(client).toMatchObject({
        sent: 150,
        delivered: 150,
        duplicates: 0,
        outOfOrder: 0,
        lost: 0,
      });
      expect(client).toHaveProperty('p99Ms');
    }
    expect(stderr).toMatch(/chaos {2}/);
    expect(stderr).toMatch(/Nothing lost, duplicated or reordered/);
  }, 60_000);

  it('with --durable, kills clients without close() and restarts them on their fileStore: nothing lost, duplicated or reordered, messages restored, folders removed', async () => {
    const { code, stdout, stderr } = await runDemo([
      '--durable',
      '--messages',
      '300',
      '--chaos',
      'heavy',
      '--seed',
      '5',
      '--json',
    ]);
    const report = JSON.parse(stdout);
    expect(code, stderr).toBe(0);
    let restarts = 0;
    let restored = 0;
    for (const client of report.clients) {
      expect(client).toMatchObject({
        sent: 300,
        duplicates: 0,
        outOfOrder: 0,
        lost: 0,
        unsavedArrived: 0,
      });
      // Expected: sent, less what a kill caught before its save; each delivered or dropped.
      expect(client.expected + client.unsaved).toBe(300);
      expect(client.delivered + client.dropped).toBe(client.expected);
      restarts += client.restarts;
      restored += client.restored;
    }
    expect(restarts).toBeGreaterThanOrEqual(1);
    expect(restored).toBeGreaterThanOrEqual(1);
    expect(stderr).toMatch(/chaos {2}kill (ws|sse)-1 \(no close\(\)\)/);
    // A restart goes on with the session it had, so the server knows its serials (D4).
    expect(stderr).toMatch(
      /restarted on the same folder: [1-9]\d* message\(s\) restored, session kept/,
    );
    expect(stderr).not.toMatch(/session NEW/);
    expect(stderr).toMatch(/durable: [1-9]\d* restart\(s\).*[1-9]\d* message\(s\) restored/);
    expect(stderr).toMatch(/Nothing lost, duplicated or reordered/);
    const folder = /fileStore in (\S+)/.exec(stderr)?.[1];
    expect(folder).toBeDefined();
    expect(existsSync(folder as string)).toBe(false);
  }, 60_000);

  it('with --help, lists every flag and exits 0', async () => {
    const { code, stdout } = await runDemo(['--help']);
    expect(code).toBe(0);
    for (const flag of ['--transport', '--messages', '--seed', '--chaos', '--durable', '--json'])
      expect(stdout).toContain(flag);
  });

  it('refuses a bad flag with a message that names it', async () => {
    const { code, stderr } = await runDemo(['--transport', 'carrier-pigeon']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--transport/);
  });

  it('with --inspect, stays up after its report until Ctrl-C, then closes everything and exits 0', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [...demo, '--inspect', '--inspect-port', String(port), '--messages', '20', '--chaos', 'off'],
      { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.add(child);
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );

    await lineMatching(child.stdout, /press Ctrl-C to stop/, exited);
    expect(output).toMatch(/Nothing lost, duplicated or reordered/);
    // The run is over and reported, yet the inspector server still answers.
    expect(await statusOf(`http://localhost:${port}/`)).toBe(200);
    expect({ code: child.exitCode, signal: child.signalCode }, 'still running').toEqual({
      code: null,
      signal: null,
    });

    child.kill('SIGINT');
    expect(await exited, output).toEqual({ code: 0, signal: null });
    expect(output).toMatch(/Ctrl-C: closing/);
    expect(output).toMatch(/ws-1 +open → closed/);
    expect(output).toMatch(/sse-1 +open → closed/);
  }, 30_000);

  it('says, for each transport, why a client loses its link when sends fail with 500 or ids are forgotten', async () => {
    const faults = [
      { pick: 1, name: /forget every connection id/, ws: /404/, sse: /404/ },
      { pick: 2, name: /fail the next 3 sends with 500/, ws: /500/, sse: /HTTP 500/ },
    ];
    for (const fault of faults) {
      const lines: string[] = [];
      let logged = () => {};
      const firstFault = new Promise<void>((resolve) => {
        logged = resolve;
      });
      // Only what chaos reads of a client: its transport. No fault here touches a client.
      const clients = [{ transport: 'websocket' }, { transport: 'sse' }] as ClientRun[];
      const chaos = startChaos({
        server: createServer(),
        clients,
        // Always the same pick out of the six faults.
        random: () => (fault.pick + 0.5) / 6,
        timeline: {
          log: (line) => {
            lines.push(line);
            logged();
          },
          explain: (line) => lines.push(line),
          console: new Console(process.stderr),
        },
        everyMs: 1,
      });
      await firstFault;
      chaos.stop();
      const [name, ws, sse] = lines;
      expect(name).toMatch(fault.name);
      // WebSocket has no status per message: the server can only drop the socket.
      expect(ws).toMatch(/^ws: .*no status per message.*(closes|drops) the socket/);
      expect(ws).toMatch(fault.ws);
      expect(sse).toMatch(/^sse: .*POST/);
      expect(sse).toMatch(fault.sse);
    }
  });
});
