/**
 * A paged KV4 cache in exactly the layout `attention_kv4_decode` reads: per layer, a K pool and a
 * V pool, each holding UINT4 codes `u8[P × HKV × 64 × D]` (one code per byte) and binary16
 * scales and minima `f16[P × HKV × 64]` (QServe §3.2: head-major inside a page, then slot).
 *
 * Pages are 64-token blocks ({@link KV4_PAGE_SIZE}). A page index means the same block in every
 * layer's pools, so one block table per sequence serves all layers (as in QServe). Pages are
 * handed out from a free list (lowest index first) and returned when a sequence is released;
 * when the free list is empty the pools grow (capacity doubles, contents copied), so a page
 * index stays valid for the life of the cache. Each page records its owner, so sharing is
 * detectable ({@link Kv4PagedCache.ownerOf}).
 * @module
 */
import { ParamError, RangeViolationError, tensor, type Tensor } from "@qoq/core";
import { KV4_PAGE_SIZE } from "@qoq/reference";

/** The codes, scales and minima of one pool (K or V of one layer). */
export interface Kv4Pool {
  /** Codes, [capacity × HKV × 64 × D]. */
  codes: Uint8Array;
  /** Scales (binary16 bits), [capacity × HKV × 64]. */
  scale: Uint16Array;
  /** Minima (binary16 bits), [capacity × HKV × 64]. */
  min: Uint16Array;
}

/** Owner id of a free page. */
const FREE = -1;

/** Paged KV4 storage of all layers, shared by the sessions of one model. */
export class Kv4PagedCache {
  /** Decoder layers. */
  readonly nLayers: number;
  /** KV heads per layer. */
  readonly nKvHeads: number;
  /** Head dimension. */
  readonly headDim: number;
  private cap: number;
  private readonly pools: { k: Kv4Pool; v: Kv4Pool }[];
  private owner: Int32Array;
  private free: number[];

  /**
   * @param nLayers decoder layers
   * @param nKvHeads KV heads
   * @param headDim head dimension
   * @param initialPages pages allocated up front (the pools grow on demand); default 4
   */
  constructor(nLayers: number, nKvHeads: number, headDim: number, initialPages = 4) {
    for (const [name, v] of [["nLayers", nLayers], ["nKvHeads", nKvHeads], ["headDim", headDim], ["initialPages", initialPages]] as const) {
      if (!Number.isSafeInteger(v) || v < 1) throw new ParamError(`Kv4PagedCache: ${name} must be a positive integer, got ${v}`);
    }
    this.nLayers = nLayers;
    this.nKvHeads = nKvHeads;
    this.headDim = headDim;
    this.cap = initialPages;
    this.pools = [];
    for (let l = 0; l < nLayers; l++) this.pools.push({ k: this.newPool(initialPages), v: this.newPool(initialPages) });
    this.owner = new Int32Array(initialPages).fill(FREE);
    this.free = Array.from({ length: initialPages }, (_, i) => i);
  }

  private newPool(pages: number): Kv4Pool {
    const rows = pages * this.nKvHeads * KV4_PAGE_SIZE;
    return { codes: new Uint8Array(rows * this.headDim), scale: new Uint16Array(rows), min: new Uint16Array(rows) };
  }

  /** Pages the pools hold now (allocated or free). */
  get capacity(): number {
    return this.cap;
  }

  /** Pages currently owned by some sequence. */
  get pagesInUse(): number {
    return this.cap - this.free.length;
  }

  /** Owner id of page `p`, or −1 when it is free. */
  ownerOf(p: number): number {
    if (!Number.isSafeInteger(p) || p < 0 || p >= this.cap) throw new RangeViolationError("page", p, `page ${p} is outside [0, ${this.cap})`);
    return this.owner[p]!;
  }

  /** Take a free page (the lowest free index) for `owner` (an id ≥ 0); grows the pools when none is free. */
  allocate(owner: number): number {
    if (!Number.isSafeInteger(owner) || owner < 0) throw new ParamError(`Kv4PagedCache.allocate: owner must be a non-negative integer, got ${owner}`);
    if (this.free.length === 0) this.grow(this.cap * 2);
    const p = this.free.shift()!;
    this.owner[p] = owner;
    return p;
  }

  /** Return pages owned by `owner` to the free list. A page not owned by `owner` is a `RangeViolationError`. */
  release(owner: number, pages: readonly number[]): void {
    for (let i = 0; i < pages.length; i++) {
      const p = pages[i]!;
      if (this.ownerOf(p) !== owner) throw new RangeViolationError("pages", i, `page ${p} is owned by ${this.owner[p]}, not by ${owner}`);
    }
    for (const p of pages) {
      this.owner[p] = FREE;
      this.free.push(p);
    }
    this.free.sort((a, b) => a - b);
  }

  private grow(newCap: number): void {
    for (const pool of this.pools) {
      for (const kind of ["k", "v"] as const) {
        const old = pool[kind];
        const next = this.newPool(newCap);
        next.codes.set(old.codes);
        next.scale.set(old.scale);
        next.min.set(old.min);
        pool[kind] = next;
      }
    }
    const owner = new Int32Array(newCap).fill(FREE);
    owner.set(this.owner);
    for (let p = this.cap; p < newCap; p++) this.free.push(p);
    this.owner = owner;
    this.cap = newCap;
  }

  /** The K or V pool of a layer (live arrays; replaced when the cache grows). */
  pool(layer: number, kind: "k" | "v"): Kv4Pool {
    const l = this.pools[layer];
    if (l === undefined) throw new RangeViolationError("layer", layer, `layer ${layer} is outside [0, ${this.nLayers})`);
    return l[kind];
  }

  /**
   * The cache of one layer as the inputs `k_cache`, `k_scale`, `k_min`, `v_cache`, `v_scale`,
   * `v_min` of `attention_kv4_decode` (views of the pools, no copy).
   */
  decodeInputs(layer: number): Record<"k_cache" | "k_scale" | "k_min" | "v_cache" | "v_scale" | "v_min", Tensor> {
    const [h, s, d, p] = [this.nKvHeads, KV4_PAGE_SIZE, this.headDim, this.cap];
    const k = this.pool(layer, "k");
    const v = this.pool(layer, "v");
    return {
      k_cache: tensor("u8", [p, h, s, d], k.codes),
      k_scale: tensor("f16", [p, h, s], k.scale),
      k_min: tensor("f16", [p, h, s], k.min),
      v_cache: tensor("u8", [p, h, s, d], v.codes),
      v_scale: tensor("f16", [p, h, s], v.scale),
      v_min: tensor("f16", [p, h, s], v.min),
    };
  }

  /**
   * Scatter the `quant_kv4` output of T tokens (`q` u8[T × HKV × D], `scale`/`min` f16[T × HKV])
   * into the pool of `layer`/`kind`: token t goes to page `pages[t]`, slot `slots[t]`.
   */
  write(layer: number, kind: "k" | "v", q: Tensor, scale: Tensor, min: Tensor, pages: readonly number[], slots: readonly number[]): void {
    const pool = this.pool(layer, kind);
    const [h, d] = [this.nKvHeads, this.headDim];
    const qd = q.data as Uint8Array;
    const sd = scale.data as Uint16Array;
    const md = min.data as Uint16Array;
    for (let t = 0; t < pages.length; t++) {
      const page = pages[t]!;
      const slot = slots[t]!;
      if (slot < 0 || slot >= KV4_PAGE_SIZE) throw new RangeViolationError("slots", t, `slot ${slot} is outside [0, ${KV4_PAGE_SIZE})`);
      if (this.ownerOf(page) === FREE) throw new RangeViolationError("pages", t, `page ${page} is not allocated`);
      for (let g = 0; g < h; g++) {
        const src = t * h + g;
        const dst = (page * h + g) * KV4_PAGE_SIZE + slot;
        pool.codes.set(qd.subarray(src * d, (src + 1) * d), dst * d);
        pool.scale[dst] = sd[src]!;
        pool.min[dst] = md[src]!;
      }
    }
  }
}
