import { definesKey, preprocessWgsl, type Defines } from './shader-defines';

/**
 * Compiled compute pipelines keyed by (kernel name, defines). Building a pipeline costs
 * milliseconds to seconds on software adapters, so each variant is built once per device.
 */
export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();

  constructor(private readonly device: GPUDevice) {}

  get(kernel: string, source: string, defines: Defines = {}, entryPoint = 'main'): GPUComputePipeline {
    const key = `${kernel}|${entryPoint}|${definesKey(defines)}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      const code = preprocessWgsl(source, defines);
      const module = this.device.createShaderModule({ code, label: key });
      pipeline = this.device.createComputePipeline({
        label: key,
        layout: 'auto',
        compute: { module, entryPoint },
      });
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  get size(): number {
    return this.pipelines.size;
  }
}
