/**
 * Idefics3 / SmolVLM prompt expansion, as Python transformers' processing_idefics3.py
 * (`get_image_prompt_string`): each `<image>` placeholder in the chat text is replaced by the
 * string below, then the whole text is tokenized. The layout must match training exactly.
 */

/** The special-token strings the expansion uses (Python hard-codes them; only `<image>` is configurable in theory). */
export interface Idefics3PromptTokens {
  fakeTokenAroundImage: string;
  imageToken: string;
  globalImageToken: string;
}

export const IDEFICS3_TOKENS: Idefics3PromptTokens = {
  fakeTokenAroundImage: '<fake_token_around_image>',
  imageToken: '<image>',
  globalImageToken: '<global-img>',
};

/**
 * The string that replaces one `<image>`. rows = cols = 0 (Python's marker for an unsplit
 * image) gives only the global part. Row/column tags are 1-based (`<row_1_col_1>` is the top
 * left tile); the tokenizer only has tags up to `<row_6_col_6>`.
 */
export function expandIdefics3Image(rows: number, cols: number, imageSeqLen: number, tokens: Idefics3PromptTokens = IDEFICS3_TOKENS): string {
  for (const [name, v] of [['rows', rows], ['cols', cols], ['imageSeqLen', imageSeqLen]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`expandIdefics3Image: ${name} must be a non-negative integer, got ${v}`);
  }
  if ((rows === 0) !== (cols === 0)) throw new Error(`expandIdefics3Image: rows and cols must both be 0 (unsplit) or both positive, got ${rows}×${cols}`);
  const { fakeTokenAroundImage: fake, imageToken: image, globalImageToken: global } = tokens;
  const run = image.repeat(imageSeqLen);
  const globalPart = `${fake}${global}${run}${fake}`;
  if (rows === 0) return globalPart;
  let s = '';
  for (let r = 1; r <= rows; r++) {
    for (let c = 1; c <= cols; c++) s += `${fake}<row_${r}_col_${c}>${run}`;
    s += '\n';
  }
  // A blank line separates the grid from the global image: the last row's '\n' plus this one.
  return `${s}\n${globalPart}`;
}

/** The parts of config.json that fix image_seq_len. */
export interface Idefics3SeqLenConfig {
  scale_factor?: number;
  vision_config: { image_size: number; patch_size: number };
}

/**
 * Tokens per frame after the connector: (image_size / patch_size)² / scale_factor²
 * (Python: int(((image_size // patch_size) ** 2) / (scale_factor ** 2))). SmolVLM-256M/500M:
 * 512 / 16 = 32, 32² / 4² = 64. processor_config.json's image_seq_len should agree.
 */
export function imageSeqLen(config: Idefics3SeqLenConfig): number {
  const s = config.scale_factor ?? 2;
  const side = Math.floor(config.vision_config.image_size / config.vision_config.patch_size);
  if (side % s !== 0) throw new Error(`imageSeqLen: ${side} patches per side is not divisible by scale_factor ${s} (pixel_shuffle needs it)`);
  return Math.trunc((side * side) / (s * s));
}

