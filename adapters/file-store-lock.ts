/**
 * One owner per store folder (rule D5), with a lock that dies with its process: no timeout,
 * no heartbeat. The lock is a numbered file, `lock.<n>`; the highest number is the one that
 * counts. It names its holder — pid, a random token and, on Linux, the boot and the
 * process's start time, so that a pid used again by another process is not taken for the
 * holder — or says `free` when its holder closed.
 *
 * To take the lock, read the highest file: a live holder means busy; otherwise create the
 * next number. Creating is `link()` of a file already written, which fails if the name
 * exists — so of two takers exactly one gets each number, and a lock file is never seen
 * half written. A taker then checks that no higher number appeared (one whose view was
 * late may have created a number that an owner already removed) and backs off if one did.
 * Numbers only grow, so a decision taken on a stale view can never remove a live lock.
 */
import { randomUUID } from 'node:crypto';
import { link, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A lock this process holds. */
export interface HeldLock {
  readonly number: number;
  readonly token: string;
}

/** What a lock file says. */
interface Holder {
  readonly pid?: number;
  readonly token?: string;
  readonly boot?: string;
  readonly start?: string;
  readonly free?: true;
}

export type Taking =
  | { readonly status: 'owned'; readonly lock: HeldLock }
  | { readonly status: 'busy'; readonly number: number };

const LOCK = /^lock\.([1-9][0-9]{0,14})$/;
const TEMP = /^lock-([1-9][0-9]{0,9})-[0-9a-f-]{36}\.tmp$/;

/** Processes in this one waiting for a folder's lock: told at once when it is let go here. */
const waiters = new Map<string, Set<() => void>>();

/** Take the lock of `dir`, or say which live holder has it. */
export async function takeLock(dir: string): Promise<Taking> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const top = await topLock(dir);
    if (top.number > 0) {
      const holder = await readHolder(dir, top.number);
      if (holder === undefined) continue; // let go or replaced as we looked
      if (await isLive(holder)) return { status: 'busy', number: top.number };
    }
    const lock: HeldLock = { number: top.number + 1, token: randomUUID() };
    if (!(await create(dir, lock.number, { ...(await identity()), token: lock.token }))) continue;
    const after = await topLock(dir);
    if (after.number > lock.number) {
      await unlink(lockFile(dir, lock.number)).catch(() => undefined);
      continue;
    }
    for (const number of after.numbers)
      if (number < lock.number) await unlink(lockFile(dir, number)).catch(() => undefined);
    for (const name of after.temps) {
      const pid = Number(TEMP.exec(name)?.[1]);
      if (!exists(pid)) await unlink(join(dir, name)).catch(() => undefined);
    }
    return { status: 'owned', lock };
  }
  throw new Error(`holdfast fileStore: the lock of ${dir} kept changing under us; try again`);
}

/** Let the lock go: a `free` file above it, then its own file removed. */
export async function releaseLock(dir: string, lock: HeldLock): Promise<void> {
  try {
    // The free file goes above ours first, so that numbers only grow.
    const marked = await create(dir, lock.number + 1, { free: true, token: lock.token }).catch(
      () => false,
    );
    try {
      await unlink(lockFile(dir, lock.number));
    } catch (error) {
      // Still ours and no free file above it: the lock would outlive the close.
      if (!marked && (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  } finally {
    for (const wake of waiters.get(dir) ?? []) wake();
  }
}

/**
 * A promise that resolves once the holder of lock `number` in `dir` let go or died: checked
 * every `pollMs`, and at once when it is let go in this process. `stop()` ends the checks
 * (the promise then never resolves).
 */
export function whenReleased(
  dir: string,
  number: number,
  pollMs: number,
): { released: Promise<void>; stop(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let wake = () => {};
  const released = new Promise<void>((resolve) => {
    wake = () => {
      if (stopped) return;
      stop();
      resolve();
    };
  });
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    const set = waiters.get(dir);
    set?.delete(wake);
    if (set?.size === 0) waiters.delete(dir);
  };
  const check = async () => {
    const top = await topLock(dir);
    if (top.number !== number) return true;
    const holder = await readHolder(dir, number);
    return holder === undefined || !(await isLive(holder));
  };
  const poll = () => {
    timer = setTimeout(() => {
      check().then(
        (free) => (free ? wake() : stopped || poll()),
        () => wake(), // the folder cannot be read: the next open() says why
      );
    }, pollMs);
  };
  const set = waiters.get(dir) ?? new Set();
  waiters.set(dir, set.add(wake));
  poll();
  return { released, stop };
}

const lockFile = (dir: string, number: number) => join(dir, `lock.${number}`);

async function topLock(
  dir: string,
): Promise<{ number: number; numbers: number[]; temps: string[] }> {
  const names = await readdir(dir);
  const numbers = names.flatMap((name) => {
    const match = LOCK.exec(name);
    return match ? [Number(match[1])] : [];
  });
  const temps = names.filter((name) => TEMP.test(name));
  return { number: Math.max(0, ...numbers), numbers, temps };
}

/** Create `lock.<number>` whole, or `false` if it exists already. */
async function create(dir: string, number: number, holder: Holder): Promise<boolean> {
  const temp = join(dir, `lock-${process.pid}-${randomUUID()}.tmp`);
  await writeFile(temp, JSON.stringify(holder), { flag: 'wx' });
  try {
    await link(temp, lockFile(dir, number));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** What `lock.<number>` says; `undefined` if it is gone. Unreadable content: free. */
async function readHolder(dir: string, number: number): Promise<Holder | undefined> {
  let text: string;
  try {
    text = await readFile(lockFile(dir, number), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    const pid = value.pid;
    if (value.free === true || !Number.isSafeInteger(pid) || (pid as number) < 1)
      return { free: true };
    const optional = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return { pid: pid as number, boot: optional(value.boot), start: optional(value.start) };
  } catch {
    // Only a power loss tears a lock file (they are linked whole): its holder is gone.
    return { free: true };
  }
}

/** Whether a holder's process is alive — the same process, not one that got its pid later. */
async function isLive(holder: Holder): Promise<boolean> {
  if (holder.free || holder.pid === undefined || !exists(holder.pid)) return false;
  if (holder.boot === undefined || holder.start === undefined) return true;
  const now = await identityOf(holder.pid);
  return now.boot === undefined || now.start === undefined
    ? true
    : now.boot === holder.boot && now.start === holder.start;
}

function exists(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid < 1) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

let mine: Promise<{ pid: number; boot?: string; start?: string }> | undefined;

/** This process, as its lock files name it. */
function identity() {
  mine ??= identityOf(process.pid).then((found) => ({ pid: process.pid, ...found }));
  return mine;
}

/**
 * The boot and start time of a process, where the system says them cheaply (Linux's
 * /proc); `{}` elsewhere, where a pid used again after a crash is taken for the holder.
 */
async function identityOf(pid: number): Promise<{ boot?: string; start?: string }> {
  try {
    const [boot, stat] = await Promise.all([
      readFile('/proc/sys/kernel/random/boot_id', 'utf8'),
      readFile(`/proc/${pid}/stat`, 'utf8'),
    ]);
    // Field 22 of stat, counted after the command name, which may hold spaces and ')'.
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return start === undefined ? {} : { boot: boot.trim(), start };
  } catch {
    return {};
  }
}
