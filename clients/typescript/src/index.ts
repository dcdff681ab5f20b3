/**
 * `@swill/client`: call a Swill server from browsers and Node, over one WebSocket.
 *
 * @packageDocumentation
 */

export { type BackoffOptions, retryDelayMs } from "./backoff.js";
export { Call, type CallOptions } from "./call.js";
export { Client, type ClientEventMap, type ClientOptions, type ConnectionState } from "./client.js";
export {
  type CloseInfo,
  SUBPROTOCOL,
  type Settings,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./connection.js";
export { Code, SwillError, type SwillErrorInit } from "./errors.js";
export {
  type Frame,
  FrameError,
  FrameType,
  type Metadata,
  decodeFrame,
  decodeValue,
  encodeFrame,
  encodeValue,
} from "./frames.js";
