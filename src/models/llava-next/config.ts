/**
 * The anyres part of a llava_next / llava_onevision config.json, on top of the LLaVA part
 * (parseLlavaConfig): the tiling resolutions and OneVision's token cap. Checked here so a
 * checkpoint we could not pack features for is refused at load, naming the field.
 */
import { ConfigError, type Json } from '../config';
import { parseLlavaConfig, type LlavaConfig } from '../llava/config';
import { parseAnyresMax, type AnyresFamily, type Pinpoint } from './anyres';

export interface AnyresConfig {
  family: AnyresFamily;
  llava: LlavaConfig;
  /** config.json image_grid_pinpoints as [height, width] pairs (the config classes' default when absent). */
  pinpoints: Pinpoint[];
  /** OneVision's vision_aspect_ratio ("anyres_max_N"); null for llava_next, which has no cap. */
  visionAspectRatio: string | null;
}

/** LlavaNextConfig's default pinpoints (also llava-v1.6's): 336-px tiles, up to 2×2, 3×1, 1×3. */
const LLAVA_NEXT_DEFAULT_PINPOINTS: Pinpoint[] = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]];

/** LlavaOnevisionConfig's default: 384·i × 384·j for i, j = 1..6 (i outer). */
function onevisionDefaultPinpoints(): Pinpoint[] {
  const out: Pinpoint[] = [];
  for (let i = 1; i <= 6; i++) for (let j = 1; j <= 6; j++) out.push([384 * i, 384 * j]);
  return out;
}

/**
 * Tiles one pinpoint may hold, and pinpoints a config may list: real checkpoints reach 6×6 = 36
 * tiles (OneVision) and 36 pinpoints; every tile is a tower run and its tokens go in the prompt.
 */
export const MAX_PINPOINT_TILES = 64;
export const MAX_PINPOINTS = 256;

function parsePinpoints(value: unknown, tileSize: number): Pinpoint[] {
  if (!Array.isArray(value) || value.length === 0) throw new ConfigError(`config.image_grid_pinpoints must be a non-empty list of [height, width] pairs`);
  if (value.length > MAX_PINPOINTS) throw new ConfigError(`config.json image_grid_pinpoints lists ${value.length} resolutions, over the maximum ${MAX_PINPOINTS}`);
  return value.map((pp, i) => {
    if (!Array.isArray(pp) || pp.length !== 2 || !pp.every((v) => Number.isInteger(v) && v > 0)) {
      throw new ConfigError(`config.image_grid_pinpoints[${i}] must be [height, width] in pixels, got ${JSON.stringify(pp)}`);
    }
    const [h, w] = pp as [number, number];
    // The model views the processor's tiles as a rows × cols grid of tower inputs: a pinpoint
    // that is not a whole number of tiles has no grid (every real checkpoint's pinpoints are).
    if (h % tileSize !== 0 || w % tileSize !== 0) {
      throw new ConfigError(`config.image_grid_pinpoints[${i}] ${h}×${w} is not a multiple of the vision tower's image_size ${tileSize}`);
    }
    const tiles = (h / tileSize) * (w / tileSize);
    if (tiles > MAX_PINPOINT_TILES) {
      throw new ConfigError(`config.json image_grid_pinpoints[${i}] ${h}×${w} is ${tiles} tiles of ${tileSize}², over the maximum ${MAX_PINPOINT_TILES} (each tile is a tower run; real checkpoints reach 36)`);
    }
    return [h, w] as const;
  });
}

export function parseAnyresConfig(raw: unknown, family: AnyresFamily): AnyresConfig {
  const llava = parseLlavaConfig(raw, [family]);
  const c = raw as Json;
  const v = llava.vision;
  const side = Math.floor(v.imageSize / v.patchSize);
  // pack_image_features reshapes each tile's features to side × side: only a selection that
  // leaves exactly the patches (CLIP 'default', SigLIP 'full') can be packed.
  if (llava.tileTokens !== side * side) {
    throw new ConfigError(
      `config.vision_feature_select_strategy "${llava.visionFeatureSelectStrategy}" leaves ${llava.tileTokens} feature rows per ${v.kind} tile; ${family} packs ${side}×${side} patch rows`,
    );
  }
  const configured = c['image_grid_pinpoints'];
  const pinpoints = parsePinpoints(
    configured === undefined || configured === null ? (family === 'llava_next' ? LLAVA_NEXT_DEFAULT_PINPOINTS : onevisionDefaultPinpoints()) : configured,
    v.imageSize,
  );
  let visionAspectRatio: string | null = null;
  if (family === 'llava_onevision') {
    const value = c['vision_aspect_ratio'] ?? 'anyres_max_9';
    if (typeof value !== 'string') throw new ConfigError(`config.vision_aspect_ratio must be a string like "anyres_max_9", got ${JSON.stringify(value)}`);
    let maxTiles: number;
    try {
      maxTiles = parseAnyresMax(value);
    } catch (e) {
      throw new ConfigError(`config.vision_aspect_ratio: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (maxTiles < 1 || maxTiles > MAX_PINPOINT_TILES) {
      throw new ConfigError(`config.json vision_aspect_ratio ${JSON.stringify(value)}: N must be in [1, ${MAX_PINPOINT_TILES}] tiles`);
    }
    visionAspectRatio = value;
  }
  return { family, llava, pinpoints, visionAspectRatio };
}
