/**
 * Fuzz cases for the preprocessor family: preprocessor_config.json and processor_config.json
 * of the tiny checkpoints (issue 25 items 3 and 8; Idefics3's max_image_size / longest_edge and
 * image_seq_len; the anyres pinpoints). Sizes, means, stds and switches out of range must be
 * refused at load, naming the file and the field, before any pixel is resized.
 */
import type { Rng } from '../../../src/util/random';
import { FUZZ_ARCHS, editJson, getPath, loadCase, pick, readJsonFile, setPath, type CaseGenerator, type Expectation, type FuzzArch, type FuzzCase, type GenContext } from '../case';
import { corruptBytes, loadStageCase, withBytes, without } from './tokenizer';

type Json = Record<string, unknown>;
type Files = Map<string, Uint8Array>;
type Variant = () => FuzzCase;

const P = 'preprocessor_config.json';
const PC = 'processor_config.json';

/** Where each arch's processor keeps its resize target, and its tower's input side. */
interface ArchShape {
  /** Dotted paths of the resize fields (size.shortest_edge, size.height, …). */
  sizeFields: readonly string[];
  /** Crop fields when the processor centre-crops. */
  cropFields: readonly string[];
  towerSide: number;
  anyres: boolean;
}

function shapeOf(arch: FuzzArch, base: Files): ArchShape {
  const p = readJsonFile(base, P);
  const towerSide = getPath(readJsonFile(base, 'config.json'), 'vision_config.image_size') as number;
  const size = p['size'] as Json;
  const sizeFields = Object.keys(size).map((k) => `size.${k}`);
  const crop = p['crop_size'] as Json | undefined;
  return { sizeFields, cropFields: crop ? Object.keys(crop).map((k) => `crop_size.${k}`) : [], towerSide, anyres: arch === 'llava-next' || arch === 'llava-onevision' };
}

/** A side value that no processor may take. */
function badSide(rng: Rng): unknown {
  return pick<unknown>(rng, [0, -1, -56, 12.5, 1e6, 1e9, 2 ** 53, 1e300, '56', true, [56], { v: 56 }]);
}

function configVariants(rng: Rng, arch: FuzzArch, base: Files): Variant[] {
  const shape = shapeOf(arch, base);
  const refuse = (name: string, mentions: readonly string[], edit: (c: Json) => unknown) => loadStageCase('preprocessor', arch, `${P}: ${name}`, [P, ...mentions], editJson(base, P, edit));
  const other = (name: string, expect: Expectation, mentions: readonly string[], edit: (c: Json) => unknown) => loadCase('preprocessor', arch, `${P}: ${name}`, expect, [P, ...mentions], editJson(base, P, edit));
  const sizeField = pick(rng, shape.sizeFields);
  const stdValue = pick<unknown>(rng, [0, null, [0.2, 0, 0.2], -0.5, [-0.5, 0.5, 0.5], ['0.5', '0.5', '0.5'], [0.5, 0.5], [0.5, 0.5, 0.5, 0.5], 1e-30, [1e-20, 1e-20, 1e-20], 'x', {}, []]);
  const meanValue = pick<unknown>(rng, [null, ['0.5', '0.5', '0.5'], [0.5, 0.5], [0.5, 0.5, 0.5, 0.5], 'x', 1e30, [1e20, 0, 0], {}, []]);
  const flag = pick(rng, ['do_resize', 'do_rescale', 'do_normalize', 'do_convert_rgb', ...(arch === 'llava' || arch === 'llava-next' ? ['do_center_crop'] : []), ...(arch !== 'llava' && arch !== 'llava-qwen2' ? ['do_pad'] : []), ...(arch === 'idefics3' ? ['do_image_splitting'] : [])]);
  const variants: Variant[] = [
    () => {
      const c = corruptBytes(rng, base.get(P)!);
      // Absent (or `null`) means "no image processor": the default question, which has an image, is then refused.
      return loadCase('preprocessor', arch, `${P}: ${c.how}`, c.expect === 'either' && !c.how.includes('null') ? 'either' : 'refuse', [P], withBytes(base, P, c.bytes));
    },
    () => loadCase('preprocessor', arch, `${P} missing (the question has an image)`, 'refuse', [P], without(base, P)),
    () => {
      const v = badSide(rng);
      return refuse(`${sizeField} = ${JSON.stringify(v)}`, [sizeField, 'size'], (c) => setPath(c, sizeField, v));
    },
    () => {
      const v = pick(rng, [1e9, 1e5, 5000]);
      return refuse(`size = ${v}×${v}`, ['size'], (c) => void (c['size'] = arch === 'idefics3' ? { longest_edge: v } : { height: v, width: v }));
    },
    () => {
      const v = pick<unknown>(rng, ['56', -1, 0, [], true, 1e9]);
      return refuse(`size = ${JSON.stringify(v)}`, ['size'], (c) => void (c['size'] = v));
    },
    () => {
      const v = pick<unknown>(rng, [{ unknown_edge: 56 }, {}, { height: shape.towerSide }]);
      // A size without any side this processor knows: legal JSON, but nothing to resize to.
      return other(`size = ${JSON.stringify(v)}`, 'either', ['size'], (c) => void (c['size'] = v));
    },
    () => {
      const v = pick<unknown>(rng, [stdValue]);
      return refuse(`image_std = ${JSON.stringify(v)}`, ['image_std'], (c) => void (c['image_std'] = v));
    },
    () => refuse(`image_mean = ${JSON.stringify(meanValue)}`, ['image_mean'], (c) => void (c['image_mean'] = meanValue)),
    () => {
      const v = pick<unknown>(rng, ['x', 0, -1 / 255, null, 2, 255, 1e300, [1 / 255]]);
      return refuse(`rescale_factor = ${JSON.stringify(v)}`, ['rescale_factor'], (c) => void (c['rescale_factor'] = v));
    },
    () => other('rescale_factor = 1/256', 'either', ['rescale_factor'], (c) => void (c['rescale_factor'] = 1 / 256)),
    () => {
      const v = pick<unknown>(rng, ['true', 'false', 1, 0, 'yes', [], {}]);
      return refuse(`${flag} = ${JSON.stringify(v)}`, [flag], (c) => void (c[flag] = v));
    },
    () => other(`${flag} flipped`, 'either', [flag], (c) => void (c[flag] = !(c[flag] ?? true))),
    () => {
      const v = pick<unknown>(rng, [9, -1, 2.5, 'bicubic', 1e9, [3]]);
      return refuse(`resample = ${JSON.stringify(v)}`, ['resample'], (c) => void (c['resample'] = v));
    },
    () => {
      const v = pick(rng, [0, 1, 2, 4, 5]);
      return other(`resample = ${v} (another PIL filter)`, 'either', ['resample'], (c) => void (c['resample'] = v));
    },
    () => {
      const v = pick<unknown>(rng, ['FooImageProcessor', '', 42, null, 'ImageProcessor', 'AutoImageProcessor']);
      return refuse(`image_processor_type = ${JSON.stringify(v)}`, ['image_processor_type'], (c) => void (c['image_processor_type'] = v));
    },
    () => other(`image_processor_type with the "Fast" suffix`, 'accept', [], (c) => void (c['image_processor_type'] = `${String(c['image_processor_type'])}Fast`)),
    () => other('image_processor_type missing', 'either', ['image_processor_type'], (c) => void delete c['image_processor_type']),
    () => other('an unknown field and the keys in reverse order', 'accept', [], (c) => ({ x_fuzz: [1, 2], ...Object.fromEntries(Object.entries(c).reverse()) })),
    () => other('processor_class changed', 'accept', [], (c) => void (c['processor_class'] = 'SomeOtherProcessor')),
  ];
  if (arch !== 'idefics3' && arch !== 'llava-next') {
    // The plain processors' other spellings of the same setting.
    variants.push(() => {
      const std = readJsonFile(base, P)['image_std'] as number[];
      return std.every((x) => x === std[0]) ? other('image_std as one number (the same for every channel)', 'accept', [], (c) => void (c['image_std'] = std[0])) : other('image_std rounded to 3 digits', 'either', ['image_std'], (c) => void (c['image_std'] = std.map((x) => Math.round(x * 1000) / 1000)));
    });
  }
  if (arch === 'llava') {
    variants.push(
      () => other('size = 56 (a plain number: CLIP reads it as the shortest edge)', 'accept', [], (c) => void (c['size'] = shape.towerSide)),
      () => other('crop_size = 56 (a plain number)', 'accept', [], (c) => void (c['crop_size'] = shape.towerSide)),
      () => other('size.shortest_edge larger than the crop', 'either', ['size'], (c) => setPath(c, 'size.shortest_edge', shape.towerSide + 8)),
    );
  }
  if (arch === 'llava' || arch === 'llava-qwen2') {
    // A legal processor whose output is not the tower's input: the features would not fit the positions.
    const field = arch === 'llava' ? 'crop_size' : 'size';
    const side = pick(rng, [shape.towerSide / 2, shape.towerSide + 4, 2 * shape.towerSide]);
    variants.push(() => refuse(`${field} = ${side}×${side}, the tower takes ${shape.towerSide}`, [field, 'image_size'], (c) => void (c[field] = { height: side, width: side })));
  }
  if (shape.cropFields.length) {
    const cf = pick(rng, shape.cropFields);
    variants.push(
      () => {
        const v = badSide(rng);
        return refuse(`${cf} = ${JSON.stringify(v)}`, [cf, 'crop_size'], (c) => setPath(c, cf, v));
      },
      () => refuse('crop_size with a height only', ['crop_size'], (c) => void (c['crop_size'] = { height: shape.towerSide })),
      () => {
        const v = pick<unknown>(rng, [-1, 0, 112.5, 1e5, '56']);
        return refuse(`crop_size = ${JSON.stringify(v)}`, ['crop_size'], (c) => void (c['crop_size'] = v));
      },
    );
  }
  if (shape.anyres) {
    const pp = readJsonFile(base, P)['image_grid_pinpoints'] as number[][];
    const t = shape.towerSide;
    const badPinpoints = pick<unknown>(rng, [
      'x', 5, {}, [], [[t]], [[t, `${2 * t}`]], [[0, 0]], [[-t, t]], [[1e5, 1e5]], [[t + 2, t + 2]], [[t, 2 * t, 3 * t]], [null],
      Array.from({ length: 1000 }, (_, i) => [t * (1 + (i % 4)), t]), [[2 ** 53, t]],
    ]);
    variants.push(
      () => refuse(`image_grid_pinpoints = ${JSON.stringify(badPinpoints).slice(0, 60)}`, ['image_grid_pinpoints'], (c) => void (c['image_grid_pinpoints'] = badPinpoints)),
      () => refuse('image_grid_pinpoints a subset of config.json\'s', ['image_grid_pinpoints'], (c) => void (c['image_grid_pinpoints'] = pp.slice(0, Math.max(1, pp.length - 2)))),
      () => other('image_grid_pinpoints removed (config.json has them)', 'accept', [], (c) => void delete c['image_grid_pinpoints']),
      () => other('image_grid_pinpoints in reverse order', 'either', ['image_grid_pinpoints'], (c) => void (c['image_grid_pinpoints'] = [...pp].reverse())),
    );
  }
  if (arch === 'llava-next') {
    // The base image is resized to shortest_edge, the tiles cut at crop_size: legal as long as the crop is the tower's.
    variants.push(() => other(`size.shortest_edge = ${shape.towerSide + 4} (crop_size stays ${shape.towerSide})`, 'either', ['size', 'crop_size'], (c) => setPath(c, 'size.shortest_edge', shape.towerSide + 4)));
  }
  if (arch === 'idefics3') {
    const tile = shape.towerSide;
    variants.push(
      () => {
        const v = pick<unknown>(rng, [0, -1, 31.5, 1e5, '32', 2 * tile, tile / 2, null, true]);
        return refuse(`max_image_size.longest_edge = ${JSON.stringify(v)}`, ['max_image_size'], (c) => setPath(c, 'max_image_size.longest_edge', v));
      },
      () => {
        const v = pick<unknown>(rng, ['x', 32, [], null]);
        // null is Python's "use the default" (then the tower's size is used): legal.
        return v === null
          ? other('max_image_size = null', 'either', ['max_image_size'], (c) => void (c['max_image_size'] = v))
          : refuse(`max_image_size = ${JSON.stringify(v)}`, ['max_image_size'], (c) => void (c['max_image_size'] = v));
      },
      () => {
        // 4096 is Python's cap, but the tiles it asks for (128 × 128) have no <row_i_col_j> tags.
        const v = pick(rng, [4096, 40 * tile, 8 * tile]);
        return refuse(`size.longest_edge = ${v} (${Math.ceil(v / tile)}×${Math.ceil(v / tile)} tiles)`, ['size.longest_edge', 'longest_edge'], (c) => setPath(c, 'size.longest_edge', v));
      },
      () => {
        const v = pick(rng, [tile, tile + 1, 3 * tile - 5, 2 * tile + 1]);
        return other(`size.longest_edge = ${v} (odd but legal)`, 'either', ['longest_edge'], (c) => setPath(c, 'size.longest_edge', v));
      },
      () => other('do_image_splitting = false', 'either', ['do_image_splitting'], (c) => void (c['do_image_splitting'] = false)),
    );
  }
  return variants;
}

function processorConfigVariants(rng: Rng, arch: FuzzArch, base: Files): Variant[] {
  const refuse = (name: string, mentions: readonly string[], edit: (c: Json) => unknown) => loadStageCase('preprocessor', arch, `${PC}: ${name}`, [PC, ...mentions], editJson(base, PC, edit));
  const other = (name: string, expect: Expectation, mentions: readonly string[], edit: (c: Json) => unknown) => loadCase('preprocessor', arch, `${PC}: ${name}`, expect, [PC, ...mentions], editJson(base, PC, edit));
  const variants: Variant[] = [
    () => {
      const c = corruptBytes(rng, base.get(PC)!);
      return loadCase('preprocessor', arch, `${PC}: ${c.how}`, c.expect, [PC], withBytes(base, PC, c.bytes));
    },
    () => loadCase('preprocessor', arch, `${PC} missing`, 'either', [PC], without(base, PC)),
    () => {
      const v = pick<unknown>(rng, ['', 5, null, ['<image>'], { content: '<image>' }]);
      return v === null ? other('image_token = null (the default <image>)', 'accept', [], (c) => void (c['image_token'] = v)) : refuse(`image_token = ${JSON.stringify(v)}`, ['image_token'], (c) => void (c['image_token'] = v));
    },
    () => refuse('image_token = "<img>" (not in tokenizer.json)', ['<img>', 'image_token'], (c) => void (c['image_token'] = '<img>')),
    () => other('an unknown field', 'accept', [], (c) => void (c['x_fuzz'] = { a: 1 })),
  ];
  if (arch === 'llava-onevision') {
    const field = pick(rng, ['num_image_tokens', 'vision_aspect_ratio']);
    const v = pick<unknown>(rng, [0, -1, 'anyres_max_1000', 'foo', 1e9, null]);
    // config.json's values are the model's; these copies feed only Python's processor.
    variants.push(() => other(`${field} = ${JSON.stringify(v)}`, 'either', [field], (c) => void (c[field] = v)));
  }
  if (arch === 'idefics3') {
    const seq = readJsonFile(base, PC)['image_seq_len'] as number;
    variants.push(
      () => {
        const v = pick<unknown>(rng, [0, -1, `${seq}`, seq - 1, seq + 1, 1e9, 2.5, true, [seq]]);
        return refuse(`image_seq_len = ${JSON.stringify(v)}`, ['image_seq_len'], (c) => void (c['image_seq_len'] = v));
      },
      () => other('image_seq_len missing (config.json fixes it)', 'accept', [], (c) => void delete c['image_seq_len']),
    );
  } else {
    variants.push(
      () => {
        const v = pick<unknown>(rng, [0, -1, '7', 1e9, 2.5]);
        return refuse(`patch_size = ${JSON.stringify(v)}`, ['patch_size'], (c) => void (c['patch_size'] = v));
      },
      () => {
        const v = pick<unknown>(rng, [-1, '1', 1e9, 0.5]);
        return refuse(`num_additional_image_tokens = ${JSON.stringify(v)}`, ['num_additional_image_tokens'], (c) => void (c['num_additional_image_tokens'] = v));
      },
      () => {
        const v = pick<unknown>(rng, ['foo', 5, null]);
        // config.json's strategy is the model's; this copy only informs the processor's count.
        return other(`vision_feature_select_strategy = ${JSON.stringify(v)}`, 'either', ['vision_feature_select_strategy'], (c) => void (c['vision_feature_select_strategy'] = v));
      },
    );
  }
  return variants;
}

export const preprocessorCases: CaseGenerator = {
  family: 'preprocessor',
  weight: 1.5,
  make(rng: Rng, gen: GenContext) {
    const arch = pick(rng, FUZZ_ARCHS);
    const base = gen.baseFiles(arch);
    const variants = rng.next() < 0.75 ? configVariants(rng, arch, base) : processorConfigVariants(rng, arch, base);
    return pick(rng, variants)();
  },
};
