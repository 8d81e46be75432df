import { GpuContext, type AdapterSummary, type GpuFeatures } from './context';
import { GpuUnavailableError } from './errors';

export interface AcquireOptions {
  /** The GPU entry point: navigator.gpu by default; in Node, `create([])` from the `webgpu` package. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Pretend these optional features are missing (to test fallbacks). */
  disableFeatures?: readonly ('shader-f16' | 'subgroups' | 'timestamp-query')[];
  /** Lower the storage-binding limit the kernels plan for (tests of weight splitting). */
  maxBindingBytes?: number;
  /**
   * Lower the largest buffer the engine plans for (adapter.limits.maxBufferSize reports it):
   * tests of the "model too large for this adapter" refusal without a multi-GiB tensor.
   */
  maxBufferSize?: number;
}

const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

const LIMITS_WE_WANT = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize',
] as const;

/**
 * Get a device with the adapter's real limits (the defaults are much smaller: 128 MiB
 * bindings, 16 KiB workgroup storage) and every optional feature the kernels can use.
 */
export async function acquireGpu(options: AcquireOptions = {}): Promise<GpuContext> {
  const gpu = options.gpu ?? (typeof navigator !== 'undefined' ? navigator.gpu : undefined);
  if (!gpu) {
    throw new GpuUnavailableError(
      'WebGPU is not available here. Use a browser with WebGPU (Chrome/Edge 113+, Safari 26+, ' +
        'Firefox 141+ on Windows) over https or localhost; in Node, pass the `webgpu` package as options.gpu.',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
  if (!adapter) {
    throw new GpuUnavailableError(
      'No WebGPU adapter was found. In Chromium without a GPU, start it with --enable-unsafe-webgpu; ' +
        'in Node, install a Vulkan driver (scripts/install-lavapipe.sh).',
    );
  }
  const disabled = new Set<string>(options.disableFeatures ?? []);
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f) && !disabled.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMITS_WE_WANT) requiredLimits[name] = adapter.limits[name];

  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  } catch (e) {
    throw new GpuUnavailableError(`requestDevice failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  const has = (f: string) => device.features.has(f);
  const features: GpuFeatures = {
    shaderF16: has('shader-f16'),
    subgroups: has('subgroups'),
    timestampQuery: has('timestamp-query'),
  };
  // adapter.info is standard now; older Chromium builds only had requestAdapterInfo().
  const info: Partial<GPUAdapterInfo> = adapter.info ?? {};
  const summary: AdapterSummary = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    features,
    limits: {
      maxBufferSize: Math.min(device.limits.maxBufferSize, options.maxBufferSize ?? Number.POSITIVE_INFINITY),
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: device.limits.maxStorageBuffersPerShaderStage,
    },
  };
  return new GpuContext(device, summary, { maxBindingBytes: options.maxBindingBytes, maxBufferBytes: options.maxBufferSize });
}

/** A one-line description for logs and benchmark headers. */
export function describeAdapter(a: AdapterSummary): string {
  const name = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ');
  const feats = Object.entries(a.features)
    .filter(([, on]) => on)
    .map(([f]) => f)
    .join(', ');
  return `${name || 'unknown adapter'}${a.isFallbackAdapter ? ' (fallback)' : ''}; features: ${feats || 'none'}; max binding ${(a.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB`;
}
