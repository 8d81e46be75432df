export { acquireGpu, describeAdapter, type AcquireOptions } from './device';
export { GpuContext, type AdapterSummary, type GpuFeatures, type BufferBinding, type DispatchSpec } from './context';
export { Tensor, type DType, elementCount, formatShape } from './tensor';
export { DeviceLostError, GpuUnavailableError, KernelInputError } from './errors';
export { preprocessWgsl, type Defines } from './preprocess';
export type { KernelTiming, ProfilerMode } from './profiler';
