/**
 * Guard bytes around every output buffer (DESIGN.md §5). The layout and pattern are those of
 * `@qoq/oracle`'s `guards.ts` (64 bytes each side, position-dependent pattern), so the runner can
 * check them again through `lastOutputBuffers()`.
 * @module
 */

/** Guard bytes on each side of an output payload (16 words; the kernels offset outputs by `GW = 16`). */
export const GUARD_BYTES = 64;

/** The guard pattern byte at offset `i` of a guard region. */
export function guardByte(i: number): number {
  return (0xa5 ^ Math.imul(i, 29)) & 0xff;
}

/** An output buffer read back whole: guard, payload, guard. */
export interface GuardedBuffer {
  /** Output tensor name. */
  readonly name: string;
  /** The whole allocation: `GUARD_BYTES` of guard, the payload, `GUARD_BYTES` of guard. */
  readonly bytes: Uint8Array;
  /** Payload length in bytes. */
  readonly payloadBytes: number;
}

/** The initial contents of a guarded buffer: guards filled with the pattern, payload zeroed. */
export function guardedInit(payloadBytes: number): Uint8Array {
  const bytes = new Uint8Array(payloadBytes + 2 * GUARD_BYTES);
  for (let i = 0; i < GUARD_BYTES; i++) {
    bytes[i] = guardByte(i);
    bytes[GUARD_BYTES + payloadBytes + i] = guardByte(i);
  }
  return bytes;
}

/** One line describing the first corrupted guard byte(s) of a buffer, or `undefined` when intact. */
export function guardProblem(buf: GuardedBuffer): string | undefined {
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
