/** The llama2.c tokenizer: hand-computed ids, byte fallback, round trips, malformed files. */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { QoqError } from "@qoq/core";
import { byteLevelTokenizer, loadTokenizer, ModelFormatError, parseTokenizer, type Tokenizer } from "../src/index.js";
import { dataFile } from "./data.js";

let tok: Tokenizer;
beforeAll(() => {
  tok = loadTokenizer(dataFile("tok512.bin"), 512);
});

describe("tok512 (stories260K)", () => {
  it("parses the documented contents", () => {
    expect(tok.maxTokenLength).toBe(7);
    expect(new TextDecoder().decode(tok.pieces[1])).toBe("\n<s>\n");
    expect(new TextDecoder().decode(tok.pieces[2])).toBe("\n</s>\n");
    expect(new TextDecoder().decode(tok.pieces[3 + 0x41])).toBe("<0x41>");
    expect(new TextDecoder().decode(tok.pieces[259])).toBe(" t");
    expect(tok.scores[300]).toBe(-41);
  });

  // Expected ids worked out by hand from the vocabulary (python dump of tok512.bin):
  // ' '=410, ' t'=259 (score 0), 'he'=260 (−1), ' a'=261 (−2), ' the'=265 (−6), ' th'=308 (−49),
  // ' L'=307 (−48), 'il'=290 (−31), 'ily'=310 (−51), ' Lily'=317 (−58), 'é'=485.
  it("encodes like run.c: dummy prefix, best-score merges", () => {
    expect(tok.encode("")).toEqual([]);
    expect(tok.encode("", { bos: true })).toEqual([1]);
    expect(tok.encode("a")).toEqual([261]); // ' ' 'a' → ' a'
    // ' ' t h e → ' t' (0) → 'he' (−1) beats ' th' (−49) → ' t'+'he' = ' the'
    expect(tok.encode("the", { bos: true })).toEqual([1, 265]);
    // ' ' L i l y → 'il' (−31) → ' L' (−48) → 'ily' (−51) → ' Lily'
    expect(tok.encode("Lily")).toEqual([317]);
    expect(tok.encode("é")).toEqual([410, 485]); // ' é' is not a piece
    expect(tok.encode("a", { bos: true, eos: true })).toEqual([1, 261, 2]);
  });

  it("falls back to bytes (id = byte + 3) for characters outside the vocabulary", () => {
    // 'Ж' = D0 96, '😀' = F0 9F 98 80: neither is a piece
    expect(tok.encode("Ж")).toEqual([410, 0xd0 + 3, 0x96 + 3]);
    expect(tok.encode("😀")).toEqual([410, 0xf0 + 3, 0x9f + 3, 0x98 + 3, 0x80 + 3]);
    expect(tok.decode([1, ...tok.encode("Ж😀")])).toBe("Ж😀");
  });

  it("decodes: leading space dropped after BOS, <0xXX> pieces to raw bytes", () => {
    expect(tok.decode([1, 317])).toBe("Lily");
    expect(tok.decode([261, 317], 0)).toBe(" a Lily");
    expect(Array.from(tok.decodePiece(5, 3 + 0x0a))).toEqual([0x0a]);
  });

  it("round-trips real text (the first 300 blank-line-separated pieces of tinystories_val.txt)", () => {
    const pieces = readFileSync(dataFile("tinystories_val.txt"), "utf8").split("\n\n").map((s) => s.trim()).filter(Boolean).slice(0, 300);
    let tokens = 0;
    for (const p of pieces) {
      const ids = tok.encode(p, { bos: true });
      tokens += ids.length;
      expect(tok.decode(ids)).toBe(p);
    }
    expect(tokens).toBeLessThan(pieces.join("").length / 2); // BPE actually merges
  });

  it("rejects malformed files with typed errors", () => {
    const bytes = readFileSync(dataFile("tok512.bin"));
    expect(() => parseTokenizer(bytes, 511, "t.bin")).toThrow(ModelFormatError); // trailing bytes
    expect(() => parseTokenizer(bytes, 513, "t.bin")).toThrow(/truncated/);
    expect(() => parseTokenizer(bytes.subarray(0, 3000), 512, "t.bin")).toThrow(ModelFormatError);
    expect(() => parseTokenizer(bytes.subarray(0, 2), 512, "t.bin")).toThrow(QoqError);
    const bad = Uint8Array.from(bytes);
    new DataView(bad.buffer).setInt32(8, 99, true); // length of token 0 > max_token_length
    expect(() => parseTokenizer(bad, 512, "t.bin")).toThrow(/byte offset 8/);
  });
});

describe("tok105 (extra/babyllama_tok105, derived)", () => {
  it("parses with the model's vocab size 105, has no byte pieces, round-trips plain text", () => {
    const t = loadTokenizer(dataFile("extra/babyllama_tok105/tok105.DERIVED.bin"), 105);
    expect(t.maxTokenLength).toBe(6);
    expect(t.pieceId(" ")).toBeGreaterThan(2);
    const s = "Once upon a time, there was a little girl named Lily.";
    const ids = t.encode(s, { bos: true });
    expect(ids[0]).toBe(1);
    expect(t.decode(ids)).toBe(s);
    expect(ids.every((id) => id >= 0 && id < 105)).toBe(true);
  });

  it("a vocabulary without byte pieces (babyllama's 105 tokens) maps an unknown character to <unk>, never past the vocabulary", () => {
    const small = loadTokenizer(dataFile("extra/babyllama_tok105/tok105.DERIVED.bin"), 105);
    const known = small.encode("He said");
    const ids = small.encode("He said ЖЖ œ");
    // 'Ж' (D0 96) and 'œ' (C5 93, from the text's mojibake 'â€œ') are not pieces: one <unk> (id 0) each, where run.c would emit bytes + 3 (up to 0xD0 + 3 = 211).
    expect(ids.filter((i) => i === 0).length).toBe(3);
    expect(ids.every((i) => i >= 0 && i < 105)).toBe(true);
    expect(ids.slice(0, known.length - 1)).toEqual(known.slice(0, -1));
    // tok512 holds the byte pieces, so it keeps run.c's byte fallback (previous test).
    expect(loadTokenizer(dataFile("tok512.bin"), 512).encode("Ж")).toEqual([410, 0xd0 + 3, 0x96 + 3]);
  });
});

describe("byte-level tokenizer", () => {
  it("maps byte b to id b + 3 and never merges", () => {
    const t = byteLevelTokenizer();
    expect(t.encode("hé", { bos: true })).toEqual([1, 35, 0x68 + 3, 0xc3 + 3, 0xa9 + 3]);
    expect(t.decode([1, 35, 0x68 + 3, 0xc3 + 3, 0xa9 + 3])).toBe("hé");
  });
});
