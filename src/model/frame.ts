// Plain data types shared by the framing stages. No I/O, no logic.

/** Which stream a message travelled on: client to server, or server to client. */
export type Direction = 'c2s' | 's2c';

export type MessageKind = 'request' | 'response' | 'notification' | 'invalid';

export type MessageId = number | string;

/** What the identity scanner learned of a body, without keeping the body. */
export interface Identity {
  kind: MessageKind;
  method: string | null;
  /** Request or response id; null for notifications, invalid bodies and `id: null` responses. */
  id: MessageId | null;
  /** Responses only: true when the response carries `error`. */
  isError: boolean;
  /** `$/cancelRequest` only: the id it cancels. */
  cancelId: MessageId | null;
  /** Why the body is `invalid`; null otherwise. */
  invalidReason: string | null;
}

/** One `Content-Length` message as it crossed the proxy. Built once, then read-only. */
export interface Frame {
  dir: Direction;
  /** Byte offset of the header's first byte in its stream. */
  offset: number;
  headerBytes: number;
  /** Body length (the declared Content-Length). */
  bodyBytes: number;
  /** hrtime when the chunk holding the header's first byte was read. */
  firstByteNs: bigint;
  /** hrtime when the chunk holding the body's last byte was read. */
  lastByteNs: bigint;
  /** hrtime just after that chunk was handed to the other side's writer. */
  forwardedNs: bigint;
  identity: Identity;
  /** The body, only when body retention is on and the body fits the retention cap. */
  body: Buffer | null;
}

/** Bad input seen on a stream. The bytes were forwarded regardless. */
export interface FrameWarning {
  dir: Direction;
  /** Byte offset in the stream where the problem starts. */
  offset: number;
  reason: string;
  /** The offending value, truncated, when there is one to show. */
  seen: string | null;
}
