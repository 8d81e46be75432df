// The model's view of an image: the part the processor uses (the centre square CLIP-style
// processors crop, or the whole image for resizing and tiling processors) cut into the grid its
// visual tokens cover. Both the Ask preview and the heatmap draw through here so a patch on
// screen is the token it names.
import type { ModelInfo } from '../engine/engine';
import type { ImageRegion, VisualGrid } from '../models/family';

export interface PatchGrid {
  rows: number;
  cols: number;
  /** Visual tokens the language model sees. */
  tokens: number;
  /** Index of the first patch token among the visual tokens (1 when a CLS token leads); used when `cell` is null. */
  offset: number;
  patchPixels: number;
  imageSize: number;
  region: ImageRegion;
  /** Visual-token index → row-major cell (−1: not a place in the image), or null for the plain offset mapping. */
  cell: Int32Array | null;
}

/** The demo model's grid, used before any model is loaded (112 px, 8 px patches). */
export const DEMO_GRID: PatchGrid = { rows: 14, cols: 14, tokens: 196, offset: 0, patchPixels: 8, imageSize: 112, region: 'centre-square', cell: null };

/** The tower's own grid for a reference image (the preview before an answer). */
export function patchGrid(info: ModelInfo): PatchGrid {
  let side = info.patchSize > 0 ? Math.floor(info.imageSize / info.patchSize) : Math.round(Math.sqrt(info.imageTokens));
  if (side <= 0) side = 1;
  const offset = info.variableImageTokens ? 0 : Math.max(0, info.imageTokens - side * side);
  return { rows: side, cols: side, tokens: info.imageTokens, offset, patchPixels: info.patchSize || info.imageSize / side, imageSize: info.imageSize, region: info.imageRegion ?? 'whole-image', cell: null };
}

/** The grid of one answer's image, as the family laid its tokens out (tiles, newline tokens). */
export function resultGrid(g: VisualGrid, fallback: PatchGrid): PatchGrid {
  return { ...fallback, rows: g.rows, cols: g.cols, tokens: g.cell.length, offset: 0, region: g.region ?? 'whole-image', cell: g.cell };
}

/** Source rectangle of the image part the grid covers, and where it goes on a square canvas. */
function placement(w: number, h: number, W: number, region: ImageRegion): { src: [number, number, number, number]; dst: [number, number, number, number] } {
  if (region === 'centre-square') {
    const s = Math.min(w, h);
    return { src: [(w - s) / 2, (h - s) / 2, s, s], dst: [0, 0, W, W] };
  }
  const scale = W / Math.max(w, h);
  const [dw, dh] = [w * scale, h * scale];
  return { src: [0, 0, w, h], dst: [(W - dw) / 2, (W - dh) / 2, dw, dh] };
}

export interface DrawOptions {
  grid: PatchGrid;
  showGrid: boolean;
  /** Cells still present; null = all (no dimming). */
  kept?: ReadonlySet<number> | null;
}

/** Draws the image part the grid covers, dims pruned cells, and strokes the grid. */
export function drawImageWithGrid(canvas: HTMLCanvasElement, image: CanvasImageSource & { width: number; height: number }, o: DrawOptions): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const W = canvas.width;
  const { src, dst } = placement(image.width, image.height, W, o.grid.region);
  const [x0, y0, dw, dh] = dst;
  ctx.imageSmoothingEnabled = false; // keep patch edges crisp on the small demo images
  ctx.clearRect(0, 0, W, W);
  ctx.drawImage(image, ...src, ...dst);
  const { rows, cols } = o.grid;
  const cw = dw / cols;
  const ch = dh / rows;
  const rect = (i: number): [number, number, number, number] => [x0 + (i % cols) * cw, y0 + Math.floor(i / cols) * ch, cw, ch];
  if (o.kept) {
    ctx.fillStyle = 'rgba(10, 14, 24, 0.78)';
    for (let i = 0; i < rows * cols; i++) if (!o.kept.has(i)) ctx.fillRect(...rect(i));
    // Kept patches get a thin warm outline so they read as "selected" even on dark images.
    ctx.strokeStyle = 'rgba(255, 190, 60, 0.9)';
    ctx.lineWidth = 1.5;
    for (const i of o.kept) {
      const [x, y, w, h] = rect(i);
      ctx.strokeRect(x + 0.75, y + 0.75, w - 1.5, h - 1.5);
    }
  }
  if (o.showGrid) {
    ctx.strokeStyle = 'rgba(255, 255, 255, 0.55)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let k = 1; k < cols; k++) {
      const p = Math.round(x0 + k * cw) + 0.5;
      ctx.moveTo(p, y0);
      ctx.lineTo(p, y0 + dh);
    }
    for (let k = 1; k < rows; k++) {
      const p = Math.round(y0 + k * ch) + 0.5;
      ctx.moveTo(x0, p);
      ctx.lineTo(x0 + dw, p);
    }
    ctx.stroke();
  }
}

/** Kept visual-token indices → kept cells (CLS, newline and global-view tokens have none). */
export function keptPatches(indices: readonly number[], grid: PatchGrid): Set<number> {
  const out = new Set<number>();
  for (const i of indices) {
    const c = grid.cell ? (grid.cell[i] ?? -1) : i - grid.offset;
    if (c >= 0) out.add(c);
  }
  return out;
}
