/**
 * Violations as a case finds them, and the error a failed case or report throws. A case
 * keeps going after a violation it can live with (so the report shows everything a run
 * broke) and stops at one it cannot (`stop`: a wait that timed out).
 */
import type { CaseResult, ConformanceReport, Violation } from './types.js';

/** At most this many violations are kept per case: the first ones explain the rest. */
const KEPT = 20;

/** Thrown inside a case to end it; the violation is already recorded. */
export class CaseStopped extends Error {
  override name = 'CaseStopped';
}

export class Findings {
  readonly list: Violation[] = [];
  /** Checks the case could not make, and why (`CaseResult.unchecked`). */
  readonly unchecked: string[] = [];

  /** A check this case cannot make: said once, never silently left out. */
  uncheckable(why: string): void {
    if (!this.unchecked.includes(why)) this.unchecked.push(why);
  }

  add(rule: string, detail: string): void {
    // The same check runs at every step: a violation it finds again is not a new one.
    const known = this.list.some((v) => v.rule === rule && v.detail === detail);
    if (!known && this.list.length < KEPT) this.list.push({ rule, detail });
  }

  /** Record a violation unless `condition` holds. */
  check(condition: boolean, rule: string, detail: () => string): void {
    if (!condition) this.add(rule, detail());
  }

  /** Record a violation and end the case. */
  stop(rule: string, detail: string): never {
    this.add(rule, detail);
    throw new CaseStopped(`${rule}: ${detail}`);
  }
}

/** One line per failed case, as a test runner prints it. */
export function describeFailure(result: CaseResult): string {
  const first = result.violation;
  const more = result.violations.length - 1;
  const line = first ? `${first.rule}: ${first.detail}` : 'failed';
  return `${result.name} — ${line}${more > 0 ? ` (+${more} more)` : ''}`;
}

/**
 * A transport failed the kit. The message names the transport, then each failed case and
 * its first violation; `results` has every one of them in full.
 */
export class ConformanceError extends Error {
  override name = 'ConformanceError';
  readonly results: readonly CaseResult[];

  constructor(name: string, results: readonly CaseResult[], total: number) {
    const failed = results.filter((r) => r.status === 'failed');
    const lines = failed.map((r) => `  ✗ ${describeFailure(r)}`);
    super(
      `holdfast/testing: ${failed.length} of ${total} conformance case${total === 1 ? '' : 's'} failed for ${JSON.stringify(name)}:\n${lines.join('\n')}`,
    );
    this.results = failed;
  }
}

/** Throw `ConformanceError` listing every failed case of `report`; return when none failed. */
export function assertConformance(report: ConformanceReport): void {
  if (report.ok) return;
  throw new ConformanceError(report.name, report.results, report.results.length);
}
