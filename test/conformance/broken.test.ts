/**
 * The kit fails what it should, and says why: two transports broken on purpose
 * (broken.ts), missing hooks reported as skipped, the error a failed report throws. A few
 * cases each, on the memory server, to stay quick.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  assertConformance,
  ConformanceError,
  conformanceCases,
  runConformance,
} from '../../src/testing/index.js';
import { eagerResume, reorderingSends } from './broken.js';
import { memoryBed } from './servers.js';

const QUICK = ['link-lifecycle', 'send-and-receive', 'dropped-link'];

function firstRules(report: Awaited<ReturnType<typeof runConformance>>) {
  return Object.fromEntries(report.results.map((r) => [r.id, r.violation?.rule ?? 'passed']));
}

describe('conformance kit against broken transports', () => {
  it('a transport whose resume() resolves before the replay fails, named after the duty', async () => {
    const bed = memoryBed();
    const report = await runConformance({
      name: 'eager resume',
      transport: () => eagerResume(bed.server.transport()),
      server: bed.hooks,
      cases: QUICK,
      timeoutMs: 2000,
    });
    bed.server.close();
    expect(report.ok).toBe(false);
    expect(firstRules(report)).toEqual({
      'link-lifecycle': 'resume waits for its replay',
      'send-and-receive': 'resume waits for its replay',
      'dropped-link': 'resume waits for its replay',
    });
    // Seen from the app too: the machine flushed before the replay reached it.
    const rules = report.results.flatMap((r) => r.violations.map((v) => v.rule));
    expect(rules).toContain('R2 resume before flush');
    expect(report.results[0]?.violation?.detail).toMatch(
      /^link 1: resume\(conformance-\w+-link-lifecycle-1@0\) resolved before its replay: the log of "conformance-\w+-link-lifecycle-1" held up to seq 3, only up to 0 had arrived$/,
    );
  }, 30_000);

  it('a transport that reorders sends fails, named after send order', async () => {
    const bed = memoryBed();
    const report = await runConformance({
      name: 'reordering',
      transport: () => reorderingSends(bed.server.transport()),
      server: bed.hooks,
      cases: QUICK,
      timeoutMs: 2000,
    });
    bed.server.close();
    // The bare link sends one message at a time: nothing to reorder there.
    expect(firstRules(report)).toEqual({
      'link-lifecycle': 'passed',
      'send-and-receive': 'R1 order',
      'dropped-link': 'R1 order',
    });
    expect(report.results[1]?.violation?.detail).toMatch(
      /was confirmed but never reached the server's app, while a message sent after it did: it was overtaken$/,
    );
  }, 30_000);

  it('assertConformance and a case run() throw a ConformanceError naming each failed case', async () => {
    const bed = memoryBed();
    const options = {
      name: 'reordering',
      transport: () => reorderingSends(bed.server.transport()),
      server: bed.hooks,
      cases: ['send-and-receive'],
    };
    const report = await runConformance(options);
    const thrown = (() => {
      try {
        assertConformance(report);
      } catch (error) {
        return error;
      }
    })();
    expect(thrown).toBeInstanceOf(ConformanceError);
    expect((thrown as Error).message).toMatch(
      /^holdfast\/testing: 1 of 1 conformance case failed for "reordering":\n {2}✗ scenario: sends before and after open, a replay and live events — R1 order: .+ \(\+\d+ more\)$/,
    );
    const [single] = conformanceCases(options);
    await expect(single?.run()).rejects.toBeInstanceOf(ConformanceError);
    bed.server.close();
  }, 30_000);

  it('a case whose hook is missing is reported skipped, naming the hook', async () => {
    const bed = memoryBed();
    const { received, publish, dropLinks } = bed.hooks;
    const options = {
      transport: () => bed.server.transport(),
      server: { received, publish, dropLinks },
      cases: ['lost-ack', 'send-while-resuming', 'paths-restart', 'send-and-receive'],
    };
    const report = await runConformance(options);
    bed.server.close();
    expect(report.ok).toBe(true);
    expect(report.results.map((r) => [r.id, r.status, r.skipped])).toEqual([
      ['send-and-receive', 'passed', undefined],
      ['send-while-resuming', 'skipped', 'the server hooks have no holdResumes()'],
      ['lost-ack', 'skipped', 'the server hooks have no loseNextAck()'],
    ]);
    // No hook, no restart step: the generated paths leave it out rather than skip it.
    expect(conformanceCases(options).map((c) => [c.id, c.skip])).toContainEqual([
      'lost-ack',
      'needs server hook loseNextAck()',
    ]);
  }, 30_000);

  it('refuses options without a transport factory or a required hook, naming it', () => {
    const bed = memoryBed();
    expect(() =>
      conformanceCases({ transport: () => bed.server.transport(), server: {} as never }),
    ).toThrow(/^holdfast\/testing: options\.server\.received must be a function/);
    expect(() => conformanceCases({ transport: undefined as never, server: bed.hooks })).toThrow(
      TypeError,
    );
  });

  it('the kit imports no test runner', () => {
    const dir = join(dirname(fileURLToPath(import.meta.url)), '../../src/testing');
    for (const file of readdirSync(dir)) {
      const source = readFileSync(join(dir, file), 'utf8');
      expect(source, file).not.toMatch(/from ['"](vitest|jest|@jest\/[\w-]+|node:test|mocha)['"]/);
    }
  });
});
