/**
 * WebGPU in Node: Dawn through the `webgpu` npm package. Node-only (CLIs, benchmarks, tests);
 * browser code never imports this file. Needs a Vulkan driver: on machines without a GPU run
 * the command under scripts/with-lavapipe.mjs (npm scripts do).
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
