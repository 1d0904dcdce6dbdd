/**
 * The WebGPU backend on any WebGPU implementation: a `GPU` object (Dawn's in Node,
 * `navigator.gpu` in a browser) and a source of WGSL text are all it needs. Inputs are validated
 * in TypeScript exactly as the reference validates them; guard bytes around every output buffer
 * are checked after every dispatch. Nothing here touches Node: the Node entry (`backend.ts`) adds
 * Dawn and the kernels read from disk, the browser entry (`browser.ts`) `navigator.gpu`.
 * @module
 */
import type {} from "webgpu"; // the WebGPU types (GPU, GPUDevice, …) only; nothing is loaded at run time
import {
  allocGuarded,
  bindInputs,
  checkGuards,
  getSignature,
  GUARD_BYTES,
  resolveParams,
  type Backend,
  type DType,
  type GuardedBuffer,
  type NamedTensors,
  type OpName,
  type ParamValues,
  type Support,
  type Tensor,
} from "@qoq/core";
import { GuardViolationError, WebGpuKernelError, WebGpuUnavailableError } from "./errors.js";
import { planFor, type KernelPlan } from "./plans.js";
import { postCheck, validateInputs } from "./validate.js";
import { composeModule, wgslFromMap, type WgslSource } from "./wgsl.js";

// GPUBufferUsage / GPUMapMode bit values (fixed by the WebGPU specification).
const MAP_READ = 1;
const COPY_SRC = 4;
const COPY_DST = 8;
const UNIFORM = 64;
const STORAGE = 128;

/** What Dawn reports about the adapter this backend runs on. */
export interface WebGpuInfo {
  /** Adapter vendor, architecture, device and description strings. */
  readonly adapter: { readonly vendor: string; readonly architecture: string; readonly device: string; readonly description: string };
  /** Smallest and largest subgroup size, where reported. */
  readonly subgroupSizes?: readonly [number, number];
  /** Adapter features, sorted. */
  readonly features: readonly string[];
  /** WGSL language features, sorted. */
  readonly wgslLanguageFeatures: readonly string[];
  /** Whether the kernels use `dot4I8Packed` (the `packed_4x8_integer_dot_product` language feature, unless disabled). */
  readonly dot4: boolean;
  /**
   * Whether kernels use subgroup operations: the adapter has the `subgroups` feature, the device
   * was requested with it, and the option `subgroups` is not `"off"` (with `"auto"`, only the
   * kernels whose plans do not opt out: see {@link KernelPlan.subgroups}).
   */
  readonly subgroups: boolean;
  /** Whether every kernel uses the subgroup path (option `"all"`), even those whose plans opt out. */
  readonly subgroupsEverywhere: boolean;
  /** Whether the adapter offers the `subgroups` feature (used or not). */
  readonly adapterSubgroups: boolean;
  /** Whether the adapter has `shader-f16` (never used: the kernels round to binary16 in integer arithmetic). */
  readonly shaderF16: boolean;
}

/** Options of {@link createWebGpuBackendOn} (and of the Node and browser factories built on it). */
export interface WebGpuCoreOptions {
  /** Use `dot4I8Packed` when the language feature exists (default true); false forces the portable fallback. */
  readonly dot4?: boolean;
  /**
   * `"auto"` (default): request the `subgroups` feature where the adapter has it and use subgroup
   * operations in the reductions of the kernels where they were not measured slower (the packed
   * GEMV and the three-dispatch KV4 decode opt out: docs/perf/webgpu.md, runs 6–8); `"all"`: in
   * every kernel that has them (tests, measurements); `"off"`: never (workgroup memory and
   * atomics only). All give the reference's bits.
   */
  readonly subgroups?: "auto" | "all" | "off";
  /**
   * Test-only fault injection: for these ops, the kernel is launched with its element count one
   * too large, so it writes one element past its output (the guard check must catch it).
   */
  readonly faults?: { readonly overrunOutput?: readonly OpName[] };
  /** What to tell the user when the `GPU` object offers no adapter (one line). */
  readonly noAdapterHint?: string;
}

/**
 * The WebGPU backend (a `Backend` whose guarded output buffers the conformance runner can
 * inspect), on any WebGPU implementation: Dawn in Node or a browser's `navigator.gpu`.
 */
export class WebGpuBackend implements Backend {
  /** Backend name. */
  readonly name = "webgpu";
  /** Adapter and feature report. */
  readonly info: WebGpuInfo;
  // Held so the GPU object (for Dawn, the instance that owns the device) lives as long as the backend.
  private gpu: GPU | undefined;
  private device: GPUDevice | undefined;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly opts: WebGpuCoreOptions;
  private readonly source: WgslSource;
  private last: GuardedBuffer[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  /** Use {@link createWebGpuBackendOn} (or `createWebGpuBackend` in Node). */
  constructor(gpu: GPU, device: GPUDevice, info: WebGpuInfo, source: WgslSource, opts: WebGpuCoreOptions) {
    this.gpu = gpu;
    this.device = device;
    this.info = info;
    this.source = source;
    this.opts = opts;
  }

  /** Every op of the reference. No kernel binds more than WebGPU's default of 8 storage buffers. */
  supports(_op: OpName, _params: ParamValues = {}): Support {
    return "supported";
  }

  /** The guarded output buffers of the most recent `run`, read back whole (guards included). */
  lastOutputBuffers(): readonly GuardedBuffer[] {
    return this.last;
  }

  /** Run one op: validate as the reference does, dispatch its kernel, check guards, read back. */
  run(op: OpName, inputs: NamedTensors, params: ParamValues = {}): Promise<NamedTensors> {
    // One run at a time: runs are serialized so `lastOutputBuffers` belongs to the run that just finished.
    const next = this.queue.then(() => this.runNow(op, inputs, params));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runNow(op: OpName, inputs: NamedTensors, params: ParamValues): Promise<NamedTensors> {
    const sig = getSignature(op);
    const dims = bindInputs(sig, inputs);
    const resolved = resolveParams(sig, params);
    validateInputs(sig.name, inputs, resolved, dims);
    const plan = planFor(sig.name, inputs, resolved, dims)!;
    const out = await this.dispatch(sig.name, plan);
    postCheck(sig.name, inputs, out, dims);
    return out;
  }

  /** Compile (once) the pipeline of a kernel. */
  private async pipeline(plan: { readonly kernel: string; readonly includes: readonly string[]; readonly subgroups?: boolean }): Promise<GPUComputePipeline> {
    const sg = this.info.subgroups && (plan.subgroups !== false || this.info.subgroupsEverywhere);
    const key = [plan.kernel, ...plan.includes, sg ? "sg" : "nosg"].join("+");
    const hit = this.pipelines.get(key);
    if (hit !== undefined) return hit;
    const device = this.live();
    const code = composeModule(plan.kernel, plan.includes, this.info.dot4, this.source, sg);
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ code, label: plan.kernel });
    const compiled = await module.getCompilationInfo();
    const errors = compiled.messages.filter((m) => m.type === "error");
    const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" }, label: plan.kernel });
    const err = await device.popErrorScope();
    if (errors.length > 0 || err !== null) {
      const first = errors[0];
      const where = first ? `${plan.kernel} (module line ${first.lineNum}): ${first.message}` : `${plan.kernel}: ${err!.message}`;
      throw new WebGpuKernelError(`webgpu: WGSL kernel failed to compile: ${where}`.split("\n")[0]!);
    }
    this.pipelines.set(key, pipeline);
    return pipeline;
  }

  private live(): GPUDevice {
    if (this.device === undefined) throw new WebGpuUnavailableError("webgpu: the backend was disposed");
    return this.device;
  }

  private async dispatch(op: string, plan: KernelPlan): Promise<NamedTensors> {
    const device = this.live();
    const passes = plan.passes ?? [{ kernel: plan.kernel, includes: plan.includes, grid: plan.grid, bindings: undefined, ...(plan.subgroups !== undefined ? { subgroups: plan.subgroups } : {}) }];
    const pipelines: GPUComputePipeline[] = [];
    for (const p of passes) pipelines.push(await this.pipeline(p));
    const made: GPUBuffer[] = [];
    const buffer = (size: number, usage: number, init?: Uint8Array | Uint32Array): GPUBuffer => {
      const b = device.createBuffer({ size: Math.max(4, Math.ceil(size / 4) * 4), usage, mappedAtCreation: init !== undefined });
      if (init !== undefined) {
        new Uint8Array(b.getMappedRange()).set(new Uint8Array(init.buffer, init.byteOffset, init.byteLength));
        b.unmap();
      }
      made.push(b);
      return b;
    };
    try {
      const params = new Uint32Array(8);
      const overrun = (this.opts.faults?.overrunOutput as readonly string[] | undefined)?.includes(op) === true;
      plan.params.forEach((v, i) => (params[1 + i] = v >>> 0));
      if (overrun) params[1] = params[1]! + 1; // the deliberately wrong launch: one element too many
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: buffer(32, UNIFORM, params) } }];
      plan.inputs.forEach((w, i) => entries.push({ binding: 1 + i, resource: { buffer: buffer(w.byteLength, STORAGE, w) } }));
      const outs = plan.outputs.map((o, i) => {
        const count = o.shape.reduce((a, b) => a * b, 1);
        // One u32 word per element, two for binary64 (its little-endian words: low, high).
        const payload = count * (o.dtype === "f64" ? 8 : 4);
        const init = allocGuarded(o.name, payload).bytes;
        const gpu = buffer(init.length, STORAGE | COPY_SRC, init);
        const read = buffer(init.length, MAP_READ | COPY_DST);
        entries.push({ binding: 1 + plan.inputs.length + i, resource: { buffer: gpu } });
        return { ...o, count, payload, gpu, read, size: init.length };
      });
      if (plan.scratch !== undefined) entries.push({ binding: 1 + plan.inputs.length + outs.length, resource: { buffer: buffer(plan.scratch * 4, STORAGE) } });
      device.pushErrorScope("validation");
      const enc = device.createCommandEncoder();
      const live = passes.filter((p) => p.grid[0] > 0 && p.grid[1] > 0);
      if (live.length > 0) {
        const pass = enc.beginComputePass();
        passes.forEach((p, i) => {
          if (p.grid[0] === 0 || p.grid[1] === 0) return;
          const used = p.bindings === undefined ? entries : entries.filter((e) => e.binding === 0 || p.bindings!.includes(e.binding));
          pass.setPipeline(pipelines[i]!);
          pass.setBindGroup(0, device.createBindGroup({ layout: pipelines[i]!.getBindGroupLayout(0), entries: used }));
          pass.dispatchWorkgroups(p.grid[0], p.grid[1]);
        });
        pass.end();
      }
      for (const o of outs) enc.copyBufferToBuffer(o.gpu, 0, o.read, 0, o.size);
      device.queue.submit([enc.finish()]);
      const err = await device.popErrorScope();
      if (err !== null) throw new WebGpuKernelError(`webgpu ${op}: dispatch rejected: ${err.message}`.split("\n")[0]!);
      await Promise.all(outs.map((o) => o.read.mapAsync(1)));
      const result: NamedTensors = {};
      const guarded: GuardedBuffer[] = [];
      for (const o of outs) {
        const bytes = new Uint8Array(o.read.getMappedRange().slice(0));
        o.read.unmap();
        guarded.push({ name: o.name, bytes, payloadBytes: o.payload });
        const words = new Uint32Array(bytes.buffer, GUARD_BYTES, o.payload / 4);
        result[o.name] = toTensor(o.dtype, o.shape, words);
      }
      this.last = guarded;
      for (const g of guarded) {
        const problem = checkGuards(g);
        if (problem !== undefined) throw new GuardViolationError(op, g.name, problem);
      }
      return result;
    } finally {
      for (const b of made) b.destroy();
    }
  }

  /** Destroy the device and drop the GPU object (so Node can exit). */
  dispose(): Promise<void> {
    this.device?.destroy();
    this.device = undefined;
    this.gpu = undefined;
    this.pipelines.clear();
    return Promise.resolve();
  }

  /**
   * Run a WGSL helper of `common.wgsl` on the device, element by element (tests of the exact
   * numerics on the GPU against `@qoq/core`): `fn` is one of {@link PROBE_FUNCTIONS}; `a` and `b`
   * are binary32 (or i32) bit patterns; returns the result bit patterns.
   */
  async probe(fn: ProbeFunction, a: Uint32Array, b: Uint32Array = new Uint32Array(a.length)): Promise<Uint32Array> {
    const n = a.length;
    const plan: KernelPlan = {
      kernel: "numerics_probe.wgsl",
      includes: [],
      inputs: [a.length ? a : new Uint32Array(1), b.length ? b : new Uint32Array(1)],
      outputs: [{ name: "r", dtype: "i32", shape: [n] }],
      params: [n, PROBE_FUNCTIONS.indexOf(fn)],
      grid: [Math.ceil(n / 64), 1],
    };
    const out = await this.dispatch(`probe:${fn}`, { ...plan, grid: [Math.min(Math.ceil(n / 64), 65535), Math.ceil(Math.ceil(n / 64) / 65535)] });
    return new Uint32Array((out.r!.data as Int32Array).buffer);
  }
}

/** The WGSL helpers {@link WebGpuBackend.probe} can run, in the order of `numerics_probe.wgsl`'s switch. */
export const PROBE_FUNCTIONS = ["div_rn", "sqrt_rn", "f32_to_f16", "i32_to_f32", "mul_hw", "add_hw", "exp_canon", "mul_rn", "add_rn", "rne", "f16_to_f32", "sub_hw"] as const;
/** Name of a probe-able WGSL helper. */
export type ProbeFunction = (typeof PROBE_FUNCTIONS)[number];

function toTensor(dtype: DType, shape: readonly number[], w: Uint32Array): Tensor {
  const n = w.length;
  switch (dtype) {
    case "f16": {
      const d = new Uint16Array(n);
      for (let i = 0; i < n; i++) d[i] = w[i]! & 0xffff;
      return { dtype, shape: [...shape], data: d };
    }
    case "i8": {
      const d = new Int8Array(n);
      for (let i = 0; i < n; i++) d[i] = w[i]! | 0;
      return { dtype, shape: [...shape], data: d };
    }
    case "u8": {
      const d = new Uint8Array(n);
      for (let i = 0; i < n; i++) d[i] = w[i]! & 0xff;
      return { dtype, shape: [...shape], data: d };
    }
    case "i32":
      return { dtype, shape: [...shape], data: new Int32Array(w.slice().buffer) };
    case "f32":
      return { dtype, shape: [...shape], data: new Float32Array(w.slice().buffer) };
    case "f64":
      return { dtype, shape: [...shape], data: new Float64Array(w.slice().buffer) };
    default:
      throw new WebGpuKernelError(`webgpu: no read-back for dtype ${dtype}`);
  }
}

/**
 * Start the WebGPU backend on a `GPU` object: request an adapter and a device. `wgsl` gives the
 * kernels' sources (a function, or a map from file name to text, e.g. embedded in a bundle).
 * Throws a {@link WebGpuUnavailableError} with one line saying why when there is no adapter or
 * device.
 */
export async function createWebGpuBackendOn(gpu: GPU, wgsl: WgslSource | Readonly<Record<string, string>>, opts: WebGpuCoreOptions = {}): Promise<WebGpuBackend> {
  const hint = opts.noAdapterHint !== undefined ? `: ${opts.noAdapterHint}` : "";
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    throw new WebGpuUnavailableError(`no WebGPU adapter (${String((e as Error).message).split("\n")[0]})${hint}`);
  }
  if (adapter === null) throw new WebGpuUnavailableError(`no WebGPU adapter${hint}`);
  const langs = [...(gpu.wgslLanguageFeatures as ReadonlySet<string>)].sort();
  const features = [...(adapter.features as ReadonlySet<string>)].sort();
  const ai = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  const hasDot4 = langs.includes("packed_4x8_integer_dot_product");
  const useSubgroups = features.includes("subgroups") && opts.subgroups !== "off";
  const info: WebGpuInfo = {
    adapter: { vendor: ai.vendor, architecture: ai.architecture, device: ai.device, description: ai.description },
    ...(ai.subgroupMinSize !== undefined && ai.subgroupMaxSize !== undefined ? { subgroupSizes: [ai.subgroupMinSize, ai.subgroupMaxSize] as const } : {}),
    features,
    wgslLanguageFeatures: langs,
    dot4: hasDot4 && opts.dot4 !== false,
    subgroups: useSubgroups,
    subgroupsEverywhere: useSubgroups && opts.subgroups === "all",
    adapterSubgroups: features.includes("subgroups"),
    shaderF16: features.includes("shader-f16"),
  };
  let device: GPUDevice;
  try {
    // Default limits: every kernel fits WebGPU's guaranteed minimums (at most 8 storage buffers per stage).
    device = await adapter.requestDevice(useSubgroups ? { requiredFeatures: ["subgroups" as GPUFeatureName] } : {});
  } catch (e) {
    throw new WebGpuUnavailableError(`no WebGPU device: ${String((e as Error).message).split("\n")[0]}`);
  }
  return new WebGpuBackend(gpu, device, info, typeof wgsl === "function" ? wgsl : wgslFromMap(wgsl), opts);
}
