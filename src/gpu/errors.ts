/** Errors the GPU layer raises. Each names what went wrong so a caller can act on it. */

/** WebGPU is missing, or no adapter/device could be obtained. */
export class GpuUnavailableError extends Error {
  override readonly name = 'GpuUnavailableError';
}

/**
 * The device was lost (driver reset, tab backgrounded too long, out of memory, or destroy()).
 * Every tensor and pipeline of the old device is gone: the caller must acquire a new device
 * and reload. `reason` is WebGPU's GPUDeviceLostReason ('destroyed' or 'unknown').
 */
export class DeviceLostError extends Error {
  override readonly name = 'DeviceLostError';
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(`WebGPU device lost (${reason}): ${message || 'no message'}`);
  }
}

/**
 * A kernel was called with inputs it cannot handle (shape, dtype, size over a device limit,
 * missing feature). Raised before anything is dispatched.
 */
export class KernelInputError extends Error {
  override readonly name = 'KernelInputError';
  constructor(
    readonly kernel: string,
    detail: string,
  ) {
    super(`${kernel}: ${detail}`);
  }
}
