/**
 * config.json of Idefics3 / SmolVLM (model_type "idefics3"): a SigLIP-style vision tower
 * (vision_config, model_type idefics3_vision), a pixel-shuffle connector (scale_factor) with one
 * bias-free linear, and a Llama decoder (text_config). We read what the forward pass needs,
 * apply Python transformers' Idefics3Config defaults and refuse what we cannot run, naming the
 * field.
 */
import { bool, ConfigError, object, parseDecoderConfig, posInt, tokenId, type DecoderConfig, type Json } from '../config';
import { parseSiglipVision, siglipGridSize, type SiglipVisionConfig } from '../siglip';

export interface Idefics3Config {
  modelType: 'idefics3';
  text: DecoderConfig;
  vision: SiglipVisionConfig;
  /** pixel_shuffle's factor s: s×s neighbouring patches become one token of width d·s². */
  scaleFactor: number;
  imageTokenId: number;
  /** Tokens per frame after the connector: (image_size / patch_size)² / s². */
  imageSeqLen: number;
  raw: Json;
}

/** Idefics3Config's constructor defaults for fields a config.json may leave out. */
const DEFAULT_SCALE_FACTOR = 2;
const DEFAULT_IMAGE_TOKEN_ID = 128257;

export function parseIdefics3Config(raw: unknown): Idefics3Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('config.json must be a JSON object');
  const c = raw as Json;
  if (c['model_type'] !== 'idefics3') throw new ConfigError(`config.json model_type "${String(c['model_type'])}" is not idefics3`);
  const textRaw = object(c, 'text_config', 'config');
  const visionRaw = object(c, 'vision_config', 'config');
  // Python builds Idefics3VisionConfig from the dict whatever model_type it names, so its
  // defaults (not SiglipVisionConfig's) fill absent keys; other tower types are refused.
  const visionType = visionRaw['model_type'];
  if (visionType !== undefined && visionType !== 'idefics3_vision' && visionType !== 'siglip_vision_model') {
    throw new ConfigError(`config.vision_config.model_type "${String(visionType)}" is not supported (idefics3_vision)`);
  }
  const vision = parseSiglipVision({ ...visionRaw, model_type: 'idefics3_vision' }, 'config.vision_config');
  const parsedText = parseDecoderConfig(textRaw, 'config.text_config');
  if (parsedText.modelType !== 'llama') throw new ConfigError(`config.text_config.model_type "${parsedText.modelType}" is not supported for idefics3 (llama)`);
  // Idefics3ForConditionalGeneration ties lm_head by the top-level flag (SmolVLM: false).
  const text: DecoderConfig = { ...parsedText, tieWordEmbeddings: bool(c, 'tie_word_embeddings', 'config', parsedText.tieWordEmbeddings) };
  const scaleFactor = posInt(c, 'scale_factor', 'config', DEFAULT_SCALE_FACTOR);
  const side = siglipGridSize(vision);
  if (side * vision.patchSize !== vision.imageSize) {
    throw new ConfigError(`config.vision_config: image_size ${vision.imageSize} is not a multiple of patch_size ${vision.patchSize}`);
  }
  if (side % scaleFactor !== 0) {
    throw new ConfigError(
      `config.json scale_factor ${scaleFactor} does not divide the ${side} patches per side of vision_config.image_size ${vision.imageSize} / patch_size ${vision.patchSize} (pixel_shuffle needs it)`,
    );
  }
  const imageTokenId = tokenId(c, 'image_token_id', 'config', DEFAULT_IMAGE_TOKEN_ID, text.vocabSize);
  return { modelType: 'idefics3', text, vision, scaleFactor, imageTokenId, imageSeqLen: (side * side) / (scaleFactor * scaleFactor), raw: c };
}
