/**
 * The llama2.c tokenizer (`tok*.bin`): a sentencepiece BPE vocabulary exported by llama2.c's
 * `tokenizer.py`, encoded and decoded exactly as `run.c` does.
 *
 * File format: int32 `max_token_length`, then for each token id 0 … vocabSize−1: float32 score,
 * int32 byte length, that many raw bytes. The vocabulary size is not stored; it comes from the
 * model (the file must be consumed exactly).
 * @module
 */
import { readFileSync } from "node:fs";
import { IoError, ParamError } from "@qoq/core";
import { ModelFormatError } from "./errors.js";

/** Token id of BOS in llama2.c vocabularies. */
export const BOS_ID = 1;
/** Token id of EOS in llama2.c vocabularies. */
export const EOS_ID = 2;
/** Id of `<unk>` in llama2.c / SentencePiece vocabularies. */
export const UNK_ID = 0;

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

/** Bytes → "binary string" (one char per byte), the key type of the vocabulary lookup. */
function bin(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** A llama2.c BPE tokenizer. */
export class Tokenizer {
  /** Each token's piece as raw bytes. */
  readonly pieces: readonly Uint8Array[];
  /** Each token's merge score. */
  readonly scores: Float32Array;
  /** `max_token_length` from the file header. */
  readonly maxTokenLength: number;
  private readonly lookup = new Map<string, number>();
  private readonly binPieces: string[];
  private readonly byteOf: Int16Array;

  /**
   * @param pieces each token's bytes, by id
   * @param scores each token's merge score (higher merges first)
   * @param maxTokenLength the longest piece in bytes
   */
  constructor(pieces: readonly Uint8Array[], scores: ArrayLike<number>, maxTokenLength: number) {
    if (scores.length !== pieces.length) throw new ParamError(`Tokenizer: ${pieces.length} pieces but ${scores.length} scores`);
    this.pieces = pieces;
    this.scores = Float32Array.from(scores);
    this.maxTokenLength = maxTokenLength;
    this.binPieces = pieces.map(bin);
    this.byteOf = new Int16Array(pieces.length).fill(-1);
    for (let id = 0; id < pieces.length; id++) {
      const s = this.binPieces[id]!;
      // First id wins for duplicated pieces (run.c's bsearch over a qsort'ed list leaves this unspecified).
      if (!this.lookup.has(s)) this.lookup.set(s, id);
      const m = BYTE_PIECE.exec(s);
      if (m) this.byteOf[id] = parseInt(m[1]!, 16);
    }
  }

  /** Number of tokens. */
  get vocabSize(): number {
    return this.pieces.length;
  }

  /** The id of a piece given as a string (UTF-8), or −1 (run.c `str_lookup`). */
  pieceId(piece: string): number {
    return this.lookup.get(bin(new TextEncoder().encode(piece))) ?? -1;
  }

  /**
   * Encode text exactly like llama2.c `run.c` `encode()`: optional BOS (id 1); the dummy-prefix
   * token `" "` when the text is non-empty; then each UTF-8 code point (a lead byte plus at most
   * 3 continuation bytes, grouped as run.c does) is looked up, and one that is not in the
   * vocabulary becomes its bytes with ids `byte + 3` (a vocabulary too small to hold the 256 byte
   * pieces at 3 … 258, such as a 105-token one, instead gets one `<unk>`, id 0, per such code point,
   * as SentencePiece does without byte fallback: run.c would emit ids past the vocabulary); then, repeatedly, the adjacent pair whose
   * concatenation is in the vocabulary with the highest score (leftmost on ties) is merged, until
   * no pair merges. Optional EOS (id 2) last. Unlike C, a NUL byte does not end the text (it is
   * encoded like any other byte). Throws if the vocabulary has no `" "` piece and text is non-empty.
   */
  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const bytes = new TextEncoder().encode(text);
    const tokens: number[] = [];
    if (opts.bos) tokens.push(BOS_ID);
    if (bytes.length > 0) {
      const space = this.lookup.get(" ");
      if (space === undefined) throw new ParamError("Tokenizer.encode: the vocabulary has no ' ' piece for the dummy prefix");
      tokens.push(space);
    }
    let buf: number[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i]!;
      if ((c & 0xc0) !== 0x80) buf = [];
      buf.push(c);
      const next = i + 1 < bytes.length ? bytes[i + 1]! : 0;
      if ((next & 0xc0) === 0x80 && buf.length < 4) continue;
      const id = this.lookup.get(String.fromCharCode(...buf));
      if (id !== undefined) tokens.push(id);
      else if (this.pieces.length < 259) tokens.push(UNK_ID);
      else for (const b of buf) tokens.push(b + 3);
      buf = [];
    }
    this.merge(tokens);
    if (opts.eos) tokens.push(EOS_ID);
    return tokens;
  }

  /** In-place greedy BPE merging (best score, leftmost on ties), as in run.c. */
  private merge(tokens: number[]): void {
    const pairId = (i: number): number => this.lookup.get(this.binPieces[tokens[i]!]! + this.binPieces[tokens[i + 1]!]!) ?? -1;
    const pairs: number[] = [];
    for (let i = 0; i + 1 < tokens.length; i++) pairs.push(pairId(i));
    for (;;) {
      let best = -1e10;
      let bestIdx = -1;
      for (let i = 0; i < pairs.length; i++) {
        const id = pairs[i]!;
        if (id !== -1 && this.scores[id]! > best) {
          best = this.scores[id]!;
          bestIdx = i;
        }
      }
      if (bestIdx === -1) return;
      tokens[bestIdx] = pairs[bestIdx]!;
      tokens.splice(bestIdx + 1, 1);
      pairs.splice(bestIdx, 1);
      if (bestIdx > 0) pairs[bestIdx - 1] = pairId(bestIdx - 1);
      if (bestIdx < pairs.length) pairs[bestIdx] = pairId(bestIdx);
    }
  }

  /**
   * The bytes a token prints as after `prev` (run.c `decode()`): its piece, with one leading
   * space removed when `prev` is BOS, and a `<0xXX>` piece replaced by the raw byte 0xXX.
   */
  decodePiece(prev: number, token: number): Uint8Array {
    if (!Number.isInteger(token) || token < 0 || token >= this.pieces.length) throw new ParamError(`Tokenizer.decode: token id ${token} is outside [0, ${this.pieces.length})`);
    const b = this.byteOf[token]!;
    if (b >= 0) return Uint8Array.of(b);
    const p = this.pieces[token]!;
    if (prev === BOS_ID && p[0] === 0x20) return p.subarray(1);
    return p;
  }

  /**
   * Decode a token sequence to text: the concatenated bytes of {@link decodePiece} for each token
   * after its predecessor (the first token's predecessor is `prev`, default BOS when the
   * sequence itself does not start with BOS), read as UTF-8 (invalid bytes become U+FFFD). A
   * leading BOS token itself is skipped, like run.c, which never prints the prompt's BOS.
   */
  decode(tokens: readonly number[], prev: number = BOS_ID): string {
    const parts: Uint8Array[] = [];
    let total = 0;
    let p = prev;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (i === 0 && t === BOS_ID) {
        p = t;
        continue;
      }
      const piece = this.decodePiece(p, t);
      parts.push(piece);
      total += piece.length;
      p = t;
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const x of parts) {
      out.set(x, o);
      o += x.length;
    }
    return new TextDecoder("utf-8").decode(out);
  }
}

/**
 * Parse a llama2.c tokenizer file held in memory with `vocabSize` entries (from the model).
 * The file must hold exactly that many entries; anything else is a {@link ModelFormatError}.
 */
export function parseTokenizer(bytes: Uint8Array, vocabSize: number, file = "<memory>"): Tokenizer {
  if (!Number.isSafeInteger(vocabSize) || vocabSize <= 0) throw new ParamError(`parseTokenizer: vocabSize must be a positive integer, got ${vocabSize}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw new ModelFormatError(`tokenizer file is ${bytes.length} bytes, shorter than its 4-byte header`, { file, tensor: "max_token_length", offset: 0 });
  const maxLen = v.getInt32(0, true);
  if (maxLen <= 0) throw new ModelFormatError(`max_token_length ${maxLen} must be positive`, { file, tensor: "max_token_length", offset: 0 });
  let off = 4;
  const pieces: Uint8Array[] = [];
  const scores = new Float32Array(vocabSize);
  for (let id = 0; id < vocabSize; id++) {
    if (off + 8 > bytes.length) throw new ModelFormatError(`tokenizer truncated: entry ${id} of ${vocabSize} has no score/length`, { file, tensor: `token ${id}`, offset: off });
    const score = v.getFloat32(off, true);
    const len = v.getInt32(off + 4, true);
    if (!Number.isFinite(score)) throw new ModelFormatError(`non-finite score ${score} for token ${id}`, { file, tensor: `token ${id}`, offset: off });
    if (len < 0 || len > maxLen) throw new ModelFormatError(`piece length ${len} of token ${id} is outside [0, max_token_length ${maxLen}]`, { file, tensor: `token ${id}`, offset: off + 4 });
    if (off + 8 + len > bytes.length) throw new ModelFormatError(`tokenizer truncated: piece of token ${id} (${len} bytes) runs past the end`, { file, tensor: `token ${id}`, offset: off + 8 });
    scores[id] = score;
    pieces.push(bytes.slice(off + 8, off + 8 + len));
    off += 8 + len;
  }
  if (off !== bytes.length) {
    throw new ModelFormatError(`${bytes.length - off} trailing bytes after ${vocabSize} tokens (does the tokenizer belong to a model with another vocab size?)`, { file, offset: off });
  }
  return new Tokenizer(pieces, scores, maxLen);
}

/** Read a llama2.c tokenizer file; see {@link parseTokenizer}. */
export function loadTokenizer(path: string, vocabSize: number): Tokenizer {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new IoError(`cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseTokenizer(bytes, vocabSize, path);
}

/**
 * A byte-level tokenizer in the llama2.c layout, for the synthetic model: id 0 `<unk>`, 1 BOS
 * (`"\n<s>\n"`), 2 EOS (`"\n</s>\n"`), ids 3 … 258 the single raw bytes 0x00 … 0xFF (so the
 * id of byte b is b + 3, the same as llama2.c's byte fallback, and `" "` is id 35), then (if
 * `vocabSize` > 259) filler pieces `<extra_N>`. All scores are 0 and no pair of pieces forms a
 * piece, so nothing merges: a text encodes to its dummy-prefix space and its UTF-8 bytes.
 */
export function byteLevelTokenizer(vocabSize = 259): Tokenizer {
  if (vocabSize < 259) throw new ParamError(`byteLevelTokenizer: vocabSize must be at least 259, got ${vocabSize}`);
  const enc = new TextEncoder();
  const pieces: Uint8Array[] = [enc.encode("<unk>"), enc.encode("\n<s>\n"), enc.encode("\n</s>\n")];
  for (let b = 0; b < 256; b++) pieces.push(Uint8Array.of(b));
  for (let i = 259; i < vocabSize; i++) pieces.push(enc.encode(`<extra_${i}>`));
  return new Tokenizer(pieces, new Float32Array(vocabSize), pieces.reduce((m, p) => Math.max(m, p.length), 0));
}
