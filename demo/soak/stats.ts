/** What each soak process reports of itself every second: memory and CPU time. */
import type { ProcessStats } from './protocol.js';

export function ownStats(): ProcessStats {
  const cpu = process.cpuUsage();
  return {
    type: 'stats',
    rssMb: Math.round(process.memoryUsage().rss / 1024 / 1024),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

/**
 * In a child: send stats to the parent every second, and end the process as soon as the
 * parent is gone (its IPC channel closes), so nothing outlives a soak that crashed.
 */
export function reportToParent(send: (message: ProcessStats) => void): void {
  const timer = setInterval(() => send(ownStats()), 1000);
  timer.unref();
  process.on('disconnect', () => process.exit(0));
}
