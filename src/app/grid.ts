// The model's view of an image: the centre square the processor crops (shortest edge resized,
// then centre crop, as CLIPImageProcessor does) cut into the vision tower's patch grid. Both the
// Ask preview and the heatmap draw through here so a patch on screen is the token it names.
import type { ModelInfo } from '../engine/engine';

export interface PatchGrid {
  /** Patches per side. */
  side: number;
  /** Visual tokens the language model sees (side² for 'default'; +1 CLS for 'full'). */
  tokens: number;
  /** Index of the first patch token among the visual tokens (1 when a CLS token leads). */
  offset: number;
  patchPixels: number;
  imageSize: number;
}

/** The demo model's grid, used before any model is loaded (112 px, 8 px patches). */
export const DEMO_GRID: PatchGrid = { side: 14, tokens: 196, offset: 0, patchPixels: 8, imageSize: 112 };

export function patchGrid(info: ModelInfo): PatchGrid {
  const vision = (info.config.vision_config ?? {}) as { patch_size?: unknown };
  const patch = typeof vision.patch_size === 'number' ? vision.patch_size : 0;
  let side = patch > 0 ? Math.round(info.imageSize / patch) : Math.round(Math.sqrt(info.imageTokens));
  if (side <= 0) side = 1;
  return { side, tokens: info.imageTokens, offset: Math.max(0, info.imageTokens - side * side), patchPixels: patch || info.imageSize / side, imageSize: info.imageSize };
}

/** Source rectangle of the centre square crop. */
function centreSquare(w: number, h: number): [number, number, number] {
  const s = Math.min(w, h);
  return [(w - s) / 2, (h - s) / 2, s];
}

export interface DrawOptions {
  grid: PatchGrid;
  showGrid: boolean;
  /** Patch-token indices (0..side²−1, CLS excluded) still present; null = all (no dimming). */
  kept?: ReadonlySet<number> | null;
}

/** Draws the cropped image scaled to the canvas, dims pruned patches, and strokes the grid. */
export function drawImageWithGrid(canvas: HTMLCanvasElement, image: CanvasImageSource & { width: number; height: number }, o: DrawOptions): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const W = canvas.width;
  const [sx, sy, s] = centreSquare(image.width, image.height);
  ctx.imageSmoothingEnabled = false; // keep patch edges crisp on the small demo images
  ctx.clearRect(0, 0, W, W);
  ctx.drawImage(image, sx, sy, s, s, 0, 0, W, W);
  const n = o.grid.side;
  const cell = W / n;
  if (o.kept) {
    ctx.fillStyle = 'rgba(10, 14, 24, 0.78)';
    for (let i = 0; i < n * n; i++) {
      if (o.kept.has(i)) continue;
      ctx.fillRect((i % n) * cell, Math.floor(i / n) * cell, cell, cell);
    }
    // Kept patches get a thin warm outline so they read as "selected" even on dark images.
    ctx.strokeStyle = 'rgba(255, 190, 60, 0.9)';
    ctx.lineWidth = 1.5;
    for (const i of o.kept) ctx.strokeRect((i % n) * cell + 0.75, Math.floor(i / n) * cell + 0.75, cell - 1.5, cell - 1.5);
  }
  if (o.showGrid) {
    ctx.strokeStyle = 'rgba(255, 255, 255, 0.55)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let k = 1; k < n; k++) {
      const p = Math.round(k * cell) + 0.5;
      ctx.moveTo(p, 0);
      ctx.lineTo(p, W);
      ctx.moveTo(0, p);
      ctx.lineTo(W, p);
    }
    ctx.stroke();
  }
}

/** Kept visual-token indices → kept patch indices (drops a leading CLS token). */
export function keptPatches(indices: readonly number[], grid: PatchGrid): Set<number> {
  const out = new Set<number>();
  for (const i of indices) if (i >= grid.offset) out.add(i - grid.offset);
  return out;
}
