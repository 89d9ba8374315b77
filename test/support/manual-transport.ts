import type { LinkClose, LinkEvents, Transport } from '../../adapters/transport.js';

/**
 * A transport that hands each link's callbacks to the test, which fires them whenever it
 * likes, late ones included: the rogue peer R5 must survive.
 */
export function manualTransport(rogue: { closeReports?: boolean; openInConnect?: boolean } = {}) {
  const links: Array<{ events: LinkEvents; closed: boolean; sends: string[] }> = [];
  const transport: Transport = {
    maxInFlight: 8,
    connect(events) {
      const entry = { events, closed: false, sends: [] as string[] };
      links.push(entry);
      if (rogue.openInConnect) events.open();
      return {
        resume: () => new Promise<void>(() => {}),
        send: (message) => {
          entry.sends.push(message.id);
          return new Promise(() => {});
        },
        close: () => {
          entry.closed = true;
          if (rogue.closeReports) events.close({ reason: 'reported from inside close()' });
        },
      };
    },
  };
  return {
    transport,
    links,
    close: (i: number, info: LinkClose = {}) => links[i]?.events.close(info),
  };
}
