/**
 * Every child process the soak starts, so that all of them end with it: on a normal exit,
 * an exception, a rejection, Ctrl-C or SIGTERM. (The forked children also end themselves
 * when their IPC channel to the parent closes: see `stats.ts`; redis-server and haproxy
 * have none, so this is all that ends them.)
 */
import { type ChildProcess, fork } from 'node:child_process';

const children = new Set<ChildProcess>();

/**
 * Fork a TypeScript module of this folder under the same loader (tsx) as the parent, or
 * with `plainNode` a bundled script (a path) on plain node.
 */
export function forkChild(
  module: string,
  args: string[],
  { plainNode = false }: { plainNode?: boolean } = {},
): ChildProcess {
  const child = fork(plainNode ? module : new URL(module, import.meta.url), args, {
    ...(plainNode ? { execArgv: [] } : {}),
    serialization: 'advanced',
    // A child's output goes to our stderr: with --json, stdout carries the summary alone.
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Count a process started otherwise (redis-server, haproxy) among the children. */
export function adopt(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** SIGKILL a child and wait until it is gone. */
export function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

export function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
}

/** Kill every child however the parent ends. */
export function killChildrenOnExit(): void {
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
  const crashed = (error: unknown) => {
    console.error('soak: crashed:', error);
    killAll();
    process.exit(2);
  };
  process.on('uncaughtException', crashed);
  process.on('unhandledRejection', crashed);
}

/** The next message from `child` that `pick` accepts, or a rejection if it exits first. */
export function nextMessage<M, T>(
  child: ChildProcess,
  pick: (message: M) => T | undefined,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      reject(new Error(`soak: a child had exited before ${what}`));
      return;
    }
    const done = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      clearTimeout(timer);
    };
    const onMessage = (message: unknown) => {
      const picked = pick(message as M);
      if (picked === undefined) return;
      done();
      resolve(picked);
    };
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`soak: a child exited (${code ?? signal}) while waiting for ${what}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`soak: no ${what} after ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}
