/** The main job, end to end: `npm run demo` on real sockets, small and seeded. */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function runDemo(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'demo/main.ts', ...args],
      { cwd: new URL('..', import.meta.url), timeout: 60_000 },
      (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }),
    );
  });
}

describe('demo', () => {
  it('delivers every message once and in order over both transports under chaos, and says so in JSON', async () => {
    const { code, stdout } = await runDemo([
      '--messages',
      '150',
      '--chaos',
      'heavy',
      '--seed',
      '7',
      '--json',
    ]);
    const lines = stdout.trim().split('\n');
    const report = JSON.parse(lines[lines.length - 1] ?? '{}');
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
    expect(stdout).toMatch(/chaos {2}/);
  }, 60_000);

  it('refuses a bad flag with a message that names it', async () => {
    const { code } = await runDemo(['--transport', 'carrier-pigeon']);
    expect(code).toBe(2);
  });
});
