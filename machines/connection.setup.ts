/**
 * The named implementations of the connection machine, as one `setup()`: the base (types,
 * the link actor, delays, guards) with the actions of each concern. The statechart,
 * which only names them, is `connection.machine.ts`.
 */
import { connectionBase } from './connection.base.js';
import { linkActions } from './link.actions.js';
import { outboxActions } from './outbox.actions.js';
import { announceActions } from './parent.js';
import { reportActions } from './report.actions.js';
import { storeActions } from './store.actions.js';
import { streamActions } from './streams.actions.js';

export const connectionSetup = connectionBase.extend({
  actions: {
    ...linkActions,
    ...outboxActions,
    ...streamActions,
    ...storeActions,
    ...reportActions,
    ...announceActions,
  },
});
