/** Errors the GPU layer raises. Each names what went wrong so a caller can act on it. */

/** WebGPU is missing, or no adapter/device could be obtained. */
export class GpuUnavailableError extends Error {
  override readonly name = 'GpuUnavailableError';
}

/**
 * The device was lost (driver reset, tab backgrounded too long, out of memory, or destroy()).
 * Every tensor and pipeline of the old device is gone. The Engine recovers by itself: its next
 * request acquires a new device and reloads the model (see Engine); code holding a bare
 * GpuContext must acquire a new one. `reason` is WebGPU's GPUDeviceLostReason ('destroyed'
 * or 'unknown'); `detail`, when given, says what the caller does about it.
 */
export class DeviceLostError extends Error {
  override readonly name = 'DeviceLostError';
  constructor(
    readonly reason: string,
    readonly deviceMessage: string,
    detail?: string,
  ) {
    super(`WebGPU device lost (${reason}): ${deviceMessage || 'no message'}${detail ? `. ${detail}` : ''}`);
  }
}

/**
 * WebGPU could not allocate a buffer (GPUOutOfMemoryError in an error scope). Whatever the
 * failed operation had allocated is freed before this is thrown.
 */
export class GpuOutOfMemoryError extends Error {
  override readonly name = 'GpuOutOfMemoryError';
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
