// A session's id in the log: 8 hex digits, to tell a log's sessions apart (a --listen log
// holds many). A label, not a secret: Math.random (V8 seeds it from the OS) instead of
// node:crypto's randomUUID, whose load cost every session's first answer 10-16 ms of the
// main thread before the server was spawned (bench/first-answer.ts).

export function newSessionId(): string {
  return Math.floor(Math.random() * 0x1_0000_0000).toString(16).padStart(8, '0');
}
