/**
 * Transports broken on purpose, each a thin wrapper over a working one, so the kit's
 * tests can show it names what they break.
 */
import type { Link, SendOutcome, Transport } from '../../adapters/transport.js';

function wrapLinks(inner: Transport, wrap: (link: Link) => Link): Transport {
  return { ...inner, connect: (events, options) => wrap(inner.connect(events, options)) };
}

/**
 * `resume()` resolves at once, before the server has replayed anything: a transport that
 * writes the resume request and does not wait for the server's answer. The request goes
 * out on a later turn of the event loop, as it would reach a remote server: on any real
 * wire the replay comes after the promise resolved.
 */
export function eagerResume(inner: Transport): Transport {
  return wrapLinks(inner, (link) => ({
    ...link,
    resume(positions) {
      setTimeout(() => link.resume(positions).catch(() => {}), 0);
      return Promise.resolve();
    },
    send: (message) => link.send(message),
    close: () => link.close(),
  }));
}

/**
 * Sends of one tick leave in reverse order: a transport that batches and gets its
 * batch backwards.
 */
export function reorderingSends(inner: Transport): Transport {
  return wrapLinks(inner, (link) => {
    let batch: Array<{ message: Parameters<Link['send']>[0]; resolve: (o: SendOutcome) => void }> =
      [];
    const flush = () => {
      const sends = batch.reverse();
      batch = [];
      for (const { message, resolve } of sends) link.send(message).then(resolve);
    };
    return {
      ...link,
      resume: (positions) => link.resume(positions),
      send: (message) =>
        new Promise<SendOutcome>((resolve) => {
          if (batch.push({ message, resolve }) === 1) queueMicrotask(flush);
        }),
      close: () => link.close(),
    };
  });
}

/**
 * `close()` silences the link and answers later sends `stale`, but never closes the link
 * underneath: the client sees nothing more, while the server holds every link open.
 */
export function leakyClose(inner: Transport): Transport {
  return {
    ...inner,
    connect(events, options) {
      let closed = false;
      const quiet =
        <A extends unknown[]>(callback: (...args: A) => void) =>
        (...args: A) => {
          if (!closed) callback(...args);
        };
      const link = inner.connect(
        {
          open: quiet(events.open),
          message: quiet(events.message),
          alive: quiet(events.alive),
          stream: quiet(events.stream),
          close: quiet(events.close),
        },
        options,
      );
      return {
        resume: (positions) => link.resume(positions),
        send: (message) =>
          closed ? Promise.resolve<SendOutcome>({ status: 'stale' }) : link.send(message),
        close: () => {
          closed = true;
        },
      };
    },
  };
}

/** The greeting is swallowed: no link ever opens (a handshake the transport never reads). */
export function neverOpens(inner: Transport): Transport {
  return {
    ...inner,
    connect: (events, options) => inner.connect({ ...events, open: () => {} }, options),
  };
}

/** The second `connect()` of each transport throws instead of reporting the failure. */
export function throwsOnSecondConnect(inner: Transport): Transport {
  let connects = 0;
  return {
    ...inner,
    connect(events, options) {
      if (++connects === 2) throw new Error('no socket for you');
      return inner.connect(events, options);
    },
  };
}

/** A send after `close()` resolves `ok`, though it went nowhere. */
export function okAfterClose(inner: Transport): Transport {
  return wrapLinks(inner, (link) => {
    let closed = false;
    return {
      ...link,
      resume: (positions) => link.resume(positions),
      send: (message) =>
        closed ? Promise.resolve<SendOutcome>({ status: 'ok' }) : link.send(message),
      close: () => {
        closed = true;
        link.close();
      },
    };
  });
}

/** `close()` resolves every send still in flight `ok`, whatever became of it. */
export function okOnClose(inner: Transport): Transport {
  return wrapLinks(inner, (link) => {
    const pending = new Set<(outcome: SendOutcome) => void>();
    return {
      ...link,
      resume: (positions) => link.resume(positions),
      send: (message) =>
        new Promise<SendOutcome>((resolve) => {
          pending.add(resolve);
          link.send(message).then((outcome) => {
            pending.delete(resolve);
            resolve(outcome);
          });
        }),
      close: () => {
        for (const resolve of pending) resolve({ status: 'ok' });
        pending.clear();
        link.close();
      },
    };
  });
}
