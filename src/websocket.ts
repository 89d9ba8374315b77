/** `holdfast/websocket`: the public entry of `adapters/websocket.ts`. */
export * from '../adapters/websocket.js';
