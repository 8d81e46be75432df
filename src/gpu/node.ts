/**
 * WebGPU in Node: Dawn through the `webgpu` npm package. Node-only (CLIs, benchmarks, tests);
 * browser code never imports this file. Needs a Vulkan driver: the npm scripts run the CLIs under
 * scripts/with-gpu.mjs (the system's GPU, else the private lavapipe) and the tests under
 * scripts/with-lavapipe.mjs (always lavapipe).
 */
import { create, globals } from 'webgpu';

let installed: GPU | null = null;

/** Installs WebGPU globals (GPUBufferUsage, …) once and returns the GPU entry point. */
export function nodeGpu(): GPU {
  if (!installed) {
    Object.assign(globalThis, globals);
    installed = create([]);
  }
  return installed;
}
