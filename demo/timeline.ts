/** The demo's output for people: a timeline with the time since start, then the report. */
import { Console } from 'node:console';

export interface Timeline {
  /** One timestamped line: a tag (`chaos`, a client's name) padded to 6, then the text. */
  log(line: string): void;
  /** A line that explains the one above it: no time, lined up with the text after the tag. */
  explain(line: string): void;
  /** Where the report table goes: the same stream as the timeline. */
  readonly console: Console;
}

const TIME_WIDTH = 9;
const TAG_WIDTH = 7;

/** `stream` is stdout, or stderr when stdout must carry nothing but the JSON report. */
export function createTimeline(stream: NodeJS.WritableStream): Timeline {
  const out = new Console({ stdout: stream, stderr: process.stderr });
  const started = performance.now();
  return {
    log: (line) => {
      const at = `+${((performance.now() - started) / 1000).toFixed(3)}s`;
      out.log(`${at.padStart(TIME_WIDTH)}  ${line}`);
    },
    explain: (line) => out.log(`${' '.repeat(TIME_WIDTH + 2 + TAG_WIDTH)}${line}`),
    console: out,
  };
}
