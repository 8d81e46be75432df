/**
 * FitPrune calibration in the runtime, through the decoder hooks of the loaded model:
 *   pass A  unpruned run of every sample: per layer the text→visual and visual→visual
 *           head-max attention mass (W_cross, W_self), two scalars per (sample, layer);
 *   pass B  for a tolerance alpha, every sample runs with its own pruned state: at each layer
 *           delete the tokens both statistics agree can go while keeping ≥ (1 − alpha) of the
 *           unpruned mass, until the sample's projected cost fits the budget;
 *   search  binary search of alpha for the budget; recipe = floor(mean deletions per layer).
 * Pass A is reusable across budgets. Progress and abort throughout.
 */
import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import type { ModelInfo } from '../models/family';
import type { AttentionHookArgs, DecoderHooks, KeepRows } from '../models/hooks';
import type { ImageInput } from '../preprocess';
import { layerRemoval, needsPruning, searchAlpha, searchSteps } from './fit';
import { referenceFlops, referenceLayerMacs, type ReferenceFlopsModel } from './flops';
import { fitpruneStats, visualOffsets, VisualRows } from './policy-kit';
import { keepAllBut } from '../util/bytes';
import { makeRecipe, type Recipe } from './recipe';
import type { PruneRunner } from './runner';

export interface CalibrationSample {
  image: ImageInput;
  question: string;
}

export interface CalibrationProgress {
  phase: 'statistics' | 'fit';
  /** 1-based sample within the current pass. */
  sample: number;
  samples: number;
  /** Search step (fit phase), 1-based, of about `steps`. */
  step?: number;
  steps?: number;
  alpha?: number;
  elapsedSeconds: number;
  etaSeconds: number;
}

/** Pass A's result: W_cross and W_self per sample and layer, plus the visual-token counts. */
export interface PassA {
  wCross: number[][];
  wSelf: number[][];
  /** Per sample (they differ when the family tiles by aspect ratio). */
  visualTokensPerSample: number[];
  /** Their mean, rounded: the recipe's N_ref. */
  visualTokens: number;
}

export interface CalibrationResult {
  recipe: Recipe;
  passA: PassA;
  steps: { alpha: number; ratio: number; feasible: boolean; counts: number[] }[];
  seconds: number;
  feasible: boolean;
}

interface Stats {
  self: Tensor;
  cross: Tensor;
  textRows: number;
  visualRows: number;
}

/** The entries of a per-column vector at the visual rows' offsets (tile markers left out). */
function atOffsets(x: Float32Array, offsets: readonly number[]): Float32Array {
  return Float32Array.from(offsets, (o) => x[o]!);
}

function layerStats(ctx: GpuContext, a: AttentionHookArgs): Stats | null {
  const span = a.seq.visualSpan;
  if (a.phase !== 'prefill' || !span || !a.rowStats) return null;
  const { selfSum, crossSum } = fitpruneStats(ctx, a, span);
  return { self: selfSum, cross: crossSum, textRows: a.seq.length - span.end, visualRows: span.end - span.start };
}

const sum = (x: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s;
};

export class Calibrator {
  private readonly model: ReferenceFlopsModel;
  private readonly info: ModelInfo;
  private readonly started = performance.now();

  constructor(
    private readonly engine: PruneRunner,
    private readonly samples: readonly CalibrationSample[],
    private readonly o: { signal?: AbortSignal; onProgress?: (p: CalibrationProgress) => void } = {},
  ) {
    const m = engine.info().model;
    if (!m) throw new Error('calibration needs a loaded model');
    if (samples.length === 0) throw new Error('calibration needs at least one sample');
    this.info = m;
    this.model = m.flops.text;
  }

  private progress(p: Omit<CalibrationProgress, 'elapsedSeconds' | 'etaSeconds'>, fractionDone: number): void {
    const elapsed = (performance.now() - this.started) / 1000;
    this.o.onProgress?.({ ...p, elapsedSeconds: elapsed, etaSeconds: fractionDone > 0 ? (elapsed / fractionDone) * (1 - fractionDone) : 0 });
  }

  private async runSample(sample: CalibrationSample, hooks: DecoderHooks): Promise<void> {
    await this.engine.generate({ prompt: sample.question, image: sample.image, maxNewTokens: 1, hooks, signal: this.o.signal });
  }

  /** Pass A: unpruned statistics of every sample. */
  async passA(): Promise<PassA> {
    const ctx = this.engine.ctx;
    const L = this.model.numLayers;
    const wCross: number[][] = [];
    const wSelf: number[][] = [];
    const perSample: number[] = [];
    for (let s = 0; s < this.samples.length; s++) {
      this.o.signal?.throwIfAborted();
      const collected: (Stats | null)[] = new Array(L).fill(null);
      let visual: number[] = [];
      await this.runSample(this.samples[s]!, {
        wantsRowStats: (_l, phase) => phase === 'prefill',
        afterAttention: (a) => {
          collected[a.layer] = layerStats(ctx, a);
          if (a.layer === 0 && a.seq.visualSpan) visual = visualOffsets(a.seq.visualSpan.end - a.seq.visualSpan.start, a.seq.fixedOffsets);
        },
      });
      const wc: number[] = [];
      const ws: number[] = [];
      for (const st of collected) {
        if (!st) throw new Error('a calibration sample has no image tokens: every sample needs an image');
        // The masses are over the visual columns only (Idefics3's tile markers are not candidates).
        wc.push(st.textRows > 0 ? sum(atOffsets((await ctx.read(st.cross)) as Float32Array, visual)) / st.textRows : 0);
        ws.push(sum(atOffsets((await ctx.read(st.self)) as Float32Array, visual)) / st.visualRows);
        st.cross.dispose();
        st.self.dispose();
      }
      wCross.push(wc);
      wSelf.push(ws);
      perSample.push(visual.length);
      this.progress({ phase: 'statistics', sample: s + 1, samples: this.samples.length }, (s + 1) / this.samples.length / (1 + searchSteps()));
    }
    return { wCross, wSelf, visualTokensPerSample: perSample, visualTokens: Math.round(perSample.reduce((x, y) => x + y, 0) / perSample.length) };
  }

  /** Pass B for one alpha: per-sample deletions per layer, then the recipe's counts. */
  async passB(a: PassA, alpha: number, budget: number, step: number): Promise<number[]> {
    const ctx = this.engine.ctx;
    const L = this.model.numLayers;
    const totals = new Array<number>(L).fill(0);
    for (let s = 0; s < this.samples.length; s++) {
      this.o.signal?.throwIfAborted();
      // Each sample is held to the budget of its own unpruned cost; counts are averaged as
      // fractions of its visual tokens and expressed for N_ref (floor(k·N/N_ref) at run time).
      const Ns = a.visualTokensPerSample[s]!;
      const budgetMacs = budget * referenceFlops(this.model, Ns, new Array(L).fill(0)).baselineMacs;
      let costSoFar = 0;
      let stopped = false;
      let rows: VisualRows | null = null;
      const hooks: DecoderHooks = {
        wantsRowStats: (_l, phase) => phase === 'prefill' && !stopped,
        afterAttention: async (h): Promise<KeepRows | void> => {
          const span = h.seq.visualSpan;
          if (h.phase !== 'prefill') return;
          if (span && !rows) rows = new VisualRows(span.end - span.start, h.seq.fixedOffsets);
          const n = rows ? rows.count : 0;
          if (!span || stopped || !needsPruning(this.model, h.layer, n, costSoFar, budgetMacs)) {
            stopped = true;
            costSoFar += referenceLayerMacs(this.model, n, n);
            return;
          }
          const st = layerStats(ctx, h)!;
          const [crossSum, selfSum] = [(await ctx.read(st.cross)) as Float32Array, (await ctx.read(st.self)) as Float32Array];
          st.cross.dispose();
          st.self.dispose();
          const offsets = rows!.offsets;
          const cross = atOffsets(crossSum, offsets).map((x) => (st.textRows > 0 ? x / st.textRows : x));
          const self = atOffsets(selfSum, offsets).map((x) => x / st.visualRows);
          const removed = layerRemoval(cross, self, a.wCross[s]![h.layer]!, a.wSelf[s]![h.layer]!, alpha);
          const k = removed.length;
          totals[h.layer]! += k;
          costSoFar += referenceLayerMacs(this.model, n, n - k);
          if (k === 0) return;
          const drop = new Set(rows!.take(removed).map((j) => span.start + j));
          const T = h.seq.length;
          const keep = ctx.upload(keepAllBut(T, drop), [T - k], 'u32', 'keep');
          return { keep, keptCount: T - k, visualSpan: n - k > 0 ? { start: span.start, end: span.end - k } : null };
        },
      };
      await this.runSample(this.samples[s]!, hooks);
      const perStep = this.samples.length * (1 + searchSteps());
      this.progress(
        { phase: 'fit', sample: s + 1, samples: this.samples.length, step: step + 1, steps: searchSteps(), alpha },
        (this.samples.length * (1 + step) + s + 1) / perStep,
      );
    }
    return totals.map((t) => Math.floor(t / this.samples.length));
  }

  /** The whole calibration for a budget (fraction of reference-convention FLOPs kept). */
  async run(budget: number, modelId: string, o: { passA?: PassA; source?: string } = {}): Promise<CalibrationResult> {
    if (!(budget > 0 && budget < 1)) throw new Error(`the budget is the fraction of FLOPs to keep, in (0, 1); got ${budget}`);
    const a = o.passA ?? (await this.passA());
    let step = 0;
    const { best, steps } = await searchAlpha(
      async (alpha) => {
        const counts = await this.passB(a, alpha, budget, step++);
        return { ratio: referenceFlops(this.model, a.visualTokens, counts).ratio, fit: counts };
      },
      budget,
      { signal: this.o.signal },
    );
    const seconds = (performance.now() - this.started) / 1000;
    const recipe = makeRecipe(this.info, modelId, best.fit, {
      referenceVisualTokens: a.visualTokens,
      budget,
      alpha: best.alpha,
      calibration: { samples: this.samples.length, source: o.source ?? 'calibration set', seconds, searchSteps: steps.length },
    });
    return { recipe, passA: a, steps: steps.map((s) => ({ alpha: s.alpha, ratio: s.ratio, feasible: s.feasible, counts: s.fit })), seconds, feasible: best.feasible };
  }
}
