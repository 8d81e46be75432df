import type { GpuContext } from '../gpu/context';
import type { Tensor } from '../gpu/tensor';

/**
 * Named per-layer hooks of the language-model decoder. Pruning policies (FitPrune, FastV,
 * random) and statistics collectors attach here; the decoder code never knows about them.
 * With no hooks attached nothing extra is computed: attention writes no row statistics and
 * no row is gathered.
 *
 * Indices are rows of the CURRENT (possibly already pruned) sequence; `positions` holds each
 * row's ORIGINAL position id, and `visualSpan` the rows of the image's region that are left.
 *
 * The visual region: V is the union of the image's visual tokens, from its first image token to
 * its last. For most families that is one run of image tokens (newline tokens included, as the
 * paper's LLaVA-NeXT code prunes them); Idefics3 puts tile markers (`<row_1_col_2>`, "\n") between
 * its runs. Those "fixed" rows stay inside the span as queries of the self statistic but are
 * never pruned: `pinned` marks them, and policies choose only among the other rows. T is every
 * row after the span.
 */
export interface SequenceView {
  /** Rows in the current sequence at this layer's input. */
  length: number;
  /** u32 [length]: original position ids (gaps appear after pruning). */
  positions: Tensor;
  /** Current rows of the image's visual tokens, or null for a text-only prompt. */
  visualSpan: { start: number; end: number } | null;
  /** Rows of the prompt before any pruning. */
  originalLength: number;
  /** Offsets from the ORIGINAL span start of the rows inside the span that are not visual tokens (never pruned). */
  fixedOffsets: readonly number[];
  /** f32 [length]: +Infinity at fixed rows, 0 elsewhere (added to scores so bottom-k never picks them); null without fixed rows. Gathered with the rows. */
  pinned: Tensor | null;
}

export interface AttentionHookArgs {
  ctx: GpuContext;
  layer: number;
  phase: 'prefill' | 'decode';
  seq: SequenceView;
  /** f32 [T, Hq, D] queries after RoPE. */
  q: Tensor;
  /** This layer's cache: f32 [capacity, Hkv, D], rows [0, kvLen) valid (this step's rows included). */
  kCache: Tensor;
  vCache: Tensor;
  kvLen: number;
  /** f32 [T, Hq, 2] (row max, sum of exp) — present when wantsRowStats(layer) said so. */
  rowStats: Tensor | null;
  /** f32 [T, Hq·D] attention output before o_proj. */
  attnOut: Tensor;
  scale: number;
}

/** What an afterAttention hook may ask for: keep only these rows from here on. */
export interface KeepRows {
  /** u32 [keptCount]: current-row indices, ascending. */
  keep: Tensor;
  keptCount: number;
  /** The visual span in the compacted sequence (null if no visual token is left). */
  visualSpan: { start: number; end: number } | null;
}

/** What a beforeDecoder hook may return: rows to keep and, optionally, their new contents. */
export interface InputRows extends KeepRows {
  /**
   * f32 [keptCount, d]: replacement input rows (a merge, e.g. pooling), in the order of `keep`,
   * whose position ids are those of the `keep` rows. Absent: the kept rows are gathered as they are.
   */
  hidden?: Tensor;
}

export interface LayerHookArgs {
  ctx: GpuContext;
  layer: number;
  phase: 'prefill' | 'decode';
  seq: SequenceView;
  /** f32 [T, d] the residual stream after this layer. */
  hidden: Tensor;
}

/**
 * Hooks may be async (calibration reads statistics back between layers); the decoder awaits
 * them, so a forward with only synchronous hooks still records everything into one batch.
 */
export interface DecoderHooks {
  /**
   * Before layer 0, on the input embeddings (prefill and decode). Vision-side policies
   * (DivPrune, uniform, pooling) choose here, so no layer ever sees the dropped tokens; `layer`
   * is 0 and `hidden` holds the embedded prompt, visual rows = projected image features.
   */
  beforeDecoder?(args: LayerHookArgs): InputRows | void | Promise<InputRows | void>;
  /** Layers whose attention must also write row statistics (max, sum-exp) for the hook. */
  wantsRowStats?(layer: number, phase: 'prefill' | 'decode'): boolean;
  /**
   * After attention probabilities are available, before o_proj. Return rows to keep to prune
   * the sequence: the attention output, the residual stream and the position ids are gathered;
   * o_proj and the MLP then run on kept rows only. The layer's KV cache keeps every row it saw.
   */
  afterAttention?(args: AttentionHookArgs): KeepRows | void | Promise<KeepRows | void>;
  /**
   * After the layer's MLP and residual add. Returning rows to keep prunes before the next
   * layer (FastV's placement): the residual stream and position ids are gathered.
   */
  afterLayer?(args: LayerHookArgs): KeepRows | void | Promise<KeepRows | void>;
}
