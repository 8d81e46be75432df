import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';
import type { RopeTable } from '../kernels/rope';
import { ops } from './ops';
import type { DecoderConfig } from './config';
import type { DecoderHooks, KeepRows, SequenceView } from './hooks';

/** GPU weights of one Llama decoder layer (matmul weights f16 [out, in], norms f32). */
export interface LlamaLayerWeights {
  inputNorm: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** f32 biases of q/k/v (Qwen2), or null. */
  qkvBias: { q: Tensor; k: Tensor; v: Tensor } | null;
  o: Tensor;
  postNorm: Tensor;
  gate: Tensor;
  up: Tensor;
  down: Tensor;
}

export interface LlamaWeights {
  embed: Tensor;
  layers: LlamaLayerWeights[];
  norm: Tensor;
  /** The embedding table when tied. */
  lmHead: Tensor;
}

/**
 * Per-request decoder state: one KV cache per layer, each with its own length. After pruning
 * the cache is ragged — layer l holds the rows it saw at its input — and decode steps attend
 * to each layer's own rows.
 */
export class KvCache {
  readonly k: Tensor[];
  readonly v: Tensor[];
  readonly lengths: number[];

  constructor(
    ctx: GpuContext,
    config: DecoderConfig,
    readonly capacity: number,
  ) {
    const shape = [capacity, config.numKvHeads, config.headDim];
    this.k = Array.from({ length: config.numLayers }, (_, l) => ctx.empty(shape, 'f32', `k${l}`));
    this.v = Array.from({ length: config.numLayers }, (_, l) => ctx.empty(shape, 'f32', `v${l}`));
    this.lengths = new Array<number>(config.numLayers).fill(0);
  }

  dispose(): void {
    for (const t of [...this.k, ...this.v]) t.dispose();
  }
}

export interface DecoderStepResult {
  /** f32 [T', d] final hidden states of the rows still alive (after the last norm). */
  hidden: Tensor;
  /** Rows alive at the end and their visual span (pruning may have removed rows). */
  seq: SequenceView;
}

/**
 * The Llama-family language model (Llama, Mistral, Qwen2 with its q/k/v biases): RMSNorm, RoPE
 * with explicit positions, grouped-query attention over a per-layer KV cache, SwiGLU MLP. Named hooks (see hooks.ts) let pruning policies read
 * attention and drop rows without touching this code.
 */
export class LlamaDecoder {
  readonly scale: number;
  private readonly rope: RopeTable;

  constructor(
    private readonly ctx: GpuContext,
    readonly config: DecoderConfig,
    readonly weights: LlamaWeights,
  ) {
    this.scale = 1 / Math.sqrt(config.headDim);
    this.rope = ops.ropeTable(ctx, config.ropeTheta, config.headDim, config.maxPositions);
  }

  embed(ids: Tensor): Tensor {
    return ops.embedding(this.ctx, ids, this.weights.embed);
  }

  /**
   * Runs every layer on `hidden` (f32 [T, d], consumed) whose rows sit at `positions`.
   * Returns the final-normed hidden states of the surviving rows.
   */
  async forward(
    hidden: Tensor,
    seq: SequenceView,
    cache: KvCache,
    phase: 'prefill' | 'decode',
    hooks: DecoderHooks | null,
  ): Promise<DecoderStepResult> {
    const { ctx, config: c } = this;
    let h = hidden;
    let view: SequenceView = { ...seq };
    const input = await hooks?.beforeDecoder?.({ ctx, layer: 0, phase, seq: view, hidden: h });
    if (input) {
      if (input.keptCount !== view.length) ({ h, view } = this.compact(h, view, seq, input));
      if (input.hidden) {
        h.dispose();
        h = input.hidden;
      }
      input.keep.dispose();
    }
    for (let l = 0; l < c.numLayers; l++) {
      const w = this.weights.layers[l]!;
      const T = view.length;
      const xn = ops.rmsnorm(ctx, h, w.inputNorm, c.rmsNormEps);
      const q = ops.matmul(ctx, xn, w.q, w.qkvBias?.q).reshape([T, c.numHeads, c.headDim]);
      const k = ops.matmul(ctx, xn, w.k, w.qkvBias?.k).reshape([T, c.numKvHeads, c.headDim]);
      const v = ops.matmul(ctx, xn, w.v, w.qkvBias?.v);
      xn.dispose();
      ops.ropeInPlace(ctx, q, view.positions, this.rope);
      ops.ropeInPlace(ctx, k, view.positions, this.rope);
      const kvLen = cache.lengths[l]! + T;
      if (kvLen > cache.capacity) throw new Error(`KV cache of layer ${l} is full (${cache.capacity} rows)`);
      const rowBytes = c.numKvHeads * c.headDim * 4;
      ctx.copy(k.buffer, 0, cache.k[l]!.buffer, cache.lengths[l]! * rowBytes, T * rowBytes);
      ctx.copy(v.buffer, 0, cache.v[l]!.buffer, cache.lengths[l]! * rowBytes, T * rowBytes);
      k.dispose();
      v.dispose();
      cache.lengths[l] = kvLen;
      const wantStats = Boolean(hooks?.wantsRowStats?.(l, phase));
      const rowStats = wantStats ? ctx.empty([T, c.numHeads, 2], 'f32', 'rowStats') : null;
      let attn = ops.attention(ctx, q, cache.k[l]!, cache.v[l]!, { kvLen, causal: true, scale: this.scale, rowStats });
      let keep: KeepRows | void = undefined;
      if (hooks?.afterAttention) {
        keep = await hooks.afterAttention({
          ctx,
          layer: l,
          phase,
          seq: view,
          q,
          kCache: cache.k[l]!,
          vCache: cache.v[l]!,
          kvLen,
          rowStats,
          attnOut: attn.reshape([T, c.numHeads * c.headDim]),
          scale: this.scale,
        });
      }
      q.dispose();
      rowStats?.dispose();
      if (keep && keep.keptCount !== T) {
        const attnKept = ops.gatherRows(ctx, attn.reshape([T, c.numHeads * c.headDim]), keep.keep);
        attn.dispose();
        attn = attnKept;
        ({ h, view } = this.compact(h, view, seq, keep));
      }
      keep?.keep.dispose();
      const o = ops.matmul(ctx, attn.reshape([view.length, c.numHeads * c.headDim]), w.o);
      attn.dispose();
      const h2 = ops.add(ctx, h, o);
      h.dispose();
      o.dispose();
      const xn2 = ops.rmsnorm(ctx, h2, w.postNorm, c.rmsNormEps);
      const gate = ops.matmul(ctx, xn2, w.gate);
      const up = ops.matmul(ctx, xn2, w.up);
      xn2.dispose();
      const act = ops.swiglu(ctx, gate, up);
      gate.dispose();
      up.dispose();
      const down = ops.matmul(ctx, act, w.down);
      act.dispose();
      h = ops.add(ctx, h2, down);
      h2.dispose();
      down.dispose();
      const after = await hooks?.afterLayer?.({ ctx, layer: l, phase, seq: view, hidden: h });
      if (after && after.keptCount !== view.length) ({ h, view } = this.compact(h, view, seq, after));
      after?.keep.dispose();
    }
    const out = ops.rmsnorm(ctx, h, this.weights.norm, c.rmsNormEps);
    h.dispose();
    return { hidden: out, seq: view };
  }

  /** Gathers the residual stream, position ids and pinned-row marks to the kept rows. */
  private compact(h: Tensor, view: SequenceView, original: SequenceView, keep: KeepRows): { h: Tensor; view: SequenceView } {
    const hKept = ops.gatherRows(this.ctx, h, keep.keep);
    const posKept = ops.gatherRows(this.ctx, view.positions, keep.keep);
    const pinnedKept = view.pinned ? ops.gatherRows(this.ctx, view.pinned, keep.keep) : null;
    h.dispose();
    if (view.positions !== original.positions) view.positions.dispose();
    if (view.pinned && view.pinned !== original.pinned) view.pinned.dispose();
    return { h: hKept, view: { ...view, length: keep.keptCount, positions: posKept, pinned: pinnedKept, visualSpan: keep.visualSpan } };
  }

  /** f32 [rows, vocab] logits of the given rows of final hidden states. */
  logits(finalHidden: Tensor, row: number): Tensor {
    const d = this.config.hiddenSize;
    const last = this.ctx.empty([1, d], 'f32', 'lastHidden');
    this.ctx.copy(finalHidden.buffer, row * d * 4, last.buffer, 0, d * 4);
    const logits = ops.matmul(this.ctx, last, this.weights.lmHead);
    last.dispose();
    return logits;
  }

  dispose(): void {
    this.rope.tensor.dispose();
  }
}
