/**
 * Typed errors of the WebGPU backend.
 * @module
 */
import { QoqError } from "@qoq/core";

/** The backend cannot start: no WebGPU adapter or device. The message is one line saying why. */
export class WebGpuUnavailableError extends QoqError {
  constructor(message: string) {
    super("unsupported", message);
    this.name = "WebGpuUnavailableError";
  }
}

/** A kernel wrote outside its output tensor: the guard bytes around the output buffer were overwritten. */
export class GuardViolationError extends QoqError {
  /** The op whose kernel wrote past its output. */
  readonly op: string;
  /** The output tensor whose guard bytes were overwritten. */
  readonly tensor: string;
  constructor(op: string, tensor: string, detail: string) {
    super("overflow", `webgpu ${op}: write past the output '${tensor}': ${detail}`);
    this.name = "GuardViolationError";
    this.op = op;
    this.tensor = tensor;
  }
}

/** A WGSL module failed to compile or a dispatch failed on the device (a backend bug, not bad input). */
export class WebGpuKernelError extends QoqError {
  constructor(message: string) {
    super("unsupported", message);
    this.name = "WebGpuKernelError";
  }
}
