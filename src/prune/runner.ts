/**
 * What calibration and evaluation need of an engine: the GPU context, the loaded model's
 * description, and one generate call with hooks or a policy. The Engine satisfies it; prune
 * never imports the engine, so the dependency runs one way (engine → prune → models).
 */
import type { GpuContext } from '../gpu/context';
import type { ModelInfo } from '../models/family';
import type { DecoderHooks } from '../models/hooks';
import type { ImageInput } from '../preprocess';
import type { PruningPolicy } from './policies';

export interface RunRequest {
  prompt: string;
  image?: ImageInput;
  maxNewTokens?: number;
  hooks?: DecoderHooks | null;
  pruning?: PruningPolicy;
  signal?: AbortSignal;
}

export interface RunResult {
  text: string;
  usage: { prefillMs: number };
  pruning: { flops: { reference: { ratio: number }; architecture: { ratio: number } } };
}

export interface PruneRunner {
  /**
   * The current device. The Engine replaces it after a device loss (the generate call that
   * met the loss rejects with a DeviceLostError), so read it per pass rather than keep it.
   */
  readonly ctx: GpuContext;
  info(): { model: ModelInfo | null };
  generate(request: RunRequest): Promise<RunResult>;
}
