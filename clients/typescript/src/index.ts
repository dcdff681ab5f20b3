/**
 * `@swill/client`: call a Swill server from browsers and Node, over one WebSocket.
 *
 * @packageDocumentation
 */

export { type BackoffOptions, retryDelayMs } from "./backoff.js";
export { Call, type CallOptions } from "./call.js";
export {
  type AuthFunction,
  Client,
  type ClientEventMap,
  type ClientOptions,
  type ConnectionState,
} from "./client.js";
export { type CloseInfo, SUBPROTOCOL, type WebSocketConstructor, type WebSocketLike } from "./connection.js";
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
export {
  type CallEvent,
  type CallFailed,
  ClientProtocol,
  type ConnectionClosed,
  type CreditGranted,
  type EndOfStream,
  type ErrorReceived,
  type GoAwayReceived,
  type HelloReceived,
  type MessageReceived,
  type MetadataReceived,
  NO_DATA,
  type PongReceived,
  type ProtocolEvent,
  type CallRequest,
  type ResponseReceived,
  type Settings,
  closeError,
  refusalCode,
} from "./protocol.js";
export { type SubscribeOptions, type SubscriptionEvent, gap, resumes } from "./subscribe.js";
