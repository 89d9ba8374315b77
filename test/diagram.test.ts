/** The diagram in docs/machine.md is the machine's: regenerate with `npm run diagram`. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { machineDiagram, withDiagram } from '../tools/diagram.js';

describe('machine diagram', () => {
  it('docs/machine.md holds the diagram generated from the machine definition', () => {
    const doc = readFileSync(new URL('../docs/machine.md', import.meta.url), 'utf8');
    expect(doc, 'run npm run diagram').toBe(withDiagram(doc));
  });

  it('draws every state and every targeted transition, with guards', () => {
    const diagram = machineDiagram();
    for (const state of [
      'connecting_opening',
      'reconnecting_waiting',
      'flushing_live',
      'open_live',
      'suspended',
      'closed',
    ]) {
      expect(diagram).toContain(`as ${state}`);
    }
    expect(diagram).toContain('reconnecting_waiting --> closed : [attemptsExhausted]');
    expect(diagram).toContain('reconnecting_waiting --> reconnecting_opening : after backoff');
    // connecting overrides resume with a transition that does nothing.
    expect(diagram).not.toMatch(/^ {2}connecting --> connecting : resume$/m);
  });
});
