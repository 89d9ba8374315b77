/**
 * Two transports broken on purpose, each a thin wrapper over a working one, so the kit's
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
