/** The diagram in docs/machine.md is the machine's: regenerate with `npm run diagram`. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DIAGRAM_FILES, machineDiagram, withDiagram } from '../tools/diagram.js';

describe('machine diagram', () => {
  it.each(DIAGRAM_FILES)('%s holds the diagram generated from the machine definition', (name) => {
    const doc = readFileSync(new URL(`../${name}`, import.meta.url), 'utf8');
    expect(doc, 'run npm run diagram').toBe(withDiagram(doc));
  });

  it('draws every state and every targeted transition, with guards', () => {
    const diagram = machineDiagram();
    for (const state of [
      'connecting_opening',
      'reconnecting_waiting',
      'flushing_heartbeat',
      'open_heartbeat',
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
