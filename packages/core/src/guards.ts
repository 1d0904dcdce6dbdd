/**
 * Guard bytes around raw output buffers (DESIGN.md §5: "guard bytes around every GPU output
 * buffer; check them after each run"). A backend that owns raw device or staging memory
 * allocates each output with {@link allocGuarded}, reads the whole allocation back (guards
 * included) after the run and checks it with {@link checkGuards}; it can also hand the buffers
 * to the conformance runner (oracle's `GuardedBackend`), which checks them again. A kernel that writes even one byte
 * past (or before) its output is caught even when the output values themselves are right.
 * @module
 */
/** Guard bytes on each side of a guarded buffer (a multiple of 16, so the payload stays aligned). */
export const GUARD_BYTES = 64;

/** The guard pattern byte at offset `i` of a guard region: position-dependent, so a shifted copy or a constant fill is caught. */
export function guardByte(i: number): number {
  return (0xa5 ^ Math.imul(i, 29)) & 0xff;
}

/** An output buffer with guard regions before and after its payload. */
export interface GuardedBuffer {
  /** Output tensor name. */
  readonly name: string;
  /** The whole allocation: `GUARD_BYTES` of guard, the payload, `GUARD_BYTES` of guard. */
  readonly bytes: Uint8Array;
  /** Payload length in bytes. */
  readonly payloadBytes: number;
}

/** Allocate a guarded buffer for a payload of `payloadBytes` bytes, guards filled with the pattern and the payload zeroed. */
export function allocGuarded(name: string, payloadBytes: number): GuardedBuffer {
  const bytes = new Uint8Array(payloadBytes + 2 * GUARD_BYTES);
  for (let i = 0; i < GUARD_BYTES; i++) {
    bytes[i] = guardByte(i);
    bytes[GUARD_BYTES + payloadBytes + i] = guardByte(i);
  }
  return { name, bytes, payloadBytes };
}

/** The payload view of a guarded buffer (shares memory with `bytes`). */
export function payloadOf(buf: GuardedBuffer): Uint8Array {
  return buf.bytes.subarray(GUARD_BYTES, GUARD_BYTES + buf.payloadBytes);
}

/**
 * Check both guard regions of a buffer. Returns `undefined` when intact, otherwise a one-line
 * description naming the first corrupted byte (e.g. "3 guard byte(s) overwritten after 'y', first at +0").
 */
export function checkGuards(buf: GuardedBuffer): string | undefined {
  if (buf.bytes.length !== buf.payloadBytes + 2 * GUARD_BYTES) return `guarded buffer '${buf.name}' has ${buf.bytes.length} bytes, expected ${buf.payloadBytes + 2 * GUARD_BYTES}`;
  const problems: string[] = [];
  for (const [where, base] of [["before", 0], ["after", GUARD_BYTES + buf.payloadBytes]] as const) {
    let bad = 0;
    let first = -1;
    for (let i = 0; i < GUARD_BYTES; i++) {
      if (buf.bytes[base + i] !== guardByte(i)) {
        bad++;
        if (first < 0) first = i;
      }
    }
    if (bad > 0) problems.push(`${bad} guard byte(s) overwritten ${where} '${buf.name}', first at ${where === "after" ? `+${first}` : `-${GUARD_BYTES - first}`}`);
  }
  return problems.length > 0 ? problems.join("; ") : undefined;
}
