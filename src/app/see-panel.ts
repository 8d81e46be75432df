// Section 3: which visual tokens survive each layer of the last pruned answer: the image with
// pruned patches dimmed at the slider's layer, and a chart of tokens kept per layer.
import type { GenerateResult } from '../engine/engine';
import type { CurrentImage } from './ask-panel';
import { barChart } from './charts';
import { byId, setChildren } from './dom';
import { drawImageWithGrid, keptPatches, resultGrid, type PatchGrid } from './grid';

interface Shown {
  result: GenerateResult;
  image: CurrentImage;
  grid: PatchGrid;
}

export function initSeePanel(): { show: (r: GenerateResult, image: CurrentImage, grid: PatchGrid) => void } {
  const canvas = byId<HTMLCanvasElement>('heatmap');
  const slider = byId<HTMLInputElement>('layer-slider');
  const text = byId('layer-text');
  const empty = byId('see-empty');
  const chart = byId('kept-chart');
  const showGrid = byId<HTMLInputElement>('show-grid');
  let shown: Shown | null = null;

  // Slider position 0 is the input (all tokens), position l the state after layer l (1-based).
  const draw = () => {
    if (!shown) return;
    const { result, image, grid } = shown;
    const p = result.pruning;
    const l = Number(slider.value);
    const before = p.deletedBeforeDecoder > 0 ? (p.keptBeforeDecoder ?? null) : null;
    const indices = l === 0 ? before : (p.keptIndices?.[l - 1] ?? null);
    const kept = indices ? keptPatches(indices, grid) : null;
    drawImageWithGrid(canvas, image.bitmap, { grid, showGrid: showGrid.checked, kept });
    const n = l === 0 ? p.visualTokens - p.deletedBeforeDecoder : (p.keptPerLayer[l - 1] ?? p.visualTokens);
    const where = l === 0 ? 'Input to layer 1' : `After layer ${l} of ${p.keptPerLayer.length}`;
    const removedHere = l === 0 ? 0 : (p.deleted[l - 1] ?? 0);
    text.textContent = `${where}: ${n} of ${p.visualTokens} visual tokens kept${l > 0 ? ` (${removedHere} removed at this layer)` : p.deletedBeforeDecoder > 0 ? ` (${p.deletedBeforeDecoder} removed before the language model)` : ''}. Dimmed patches are pruned.`;
    slider.setAttribute('aria-valuetext', `${where}, ${n} tokens kept`);
  };
  slider.addEventListener('input', draw);
  showGrid.addEventListener('change', draw);

  const show = (result: GenerateResult, image: CurrentImage, grid: PatchGrid) => {
    // The answer's own layout (tiles, newline tokens) when the family reports one.
    shown = { result, image, grid: result.pruning.grid ? resultGrid(result.pruning.grid, grid) : grid };
    byId('see-body').hidden = false;
    empty.textContent = `Kept tokens of the last pruned answer (${result.pruning.policy}) to “${image.name}”.`;
    const L = result.pruning.keptPerLayer.length;
    slider.max = String(L);
    slider.disabled = false;
    // Start at the deepest layer where something was pruned: the most telling view.
    const firstFull = result.pruning.keptPerLayer.findIndex((k) => k === result.pruning.keptPerLayer.at(-1));
    slider.value = String(Math.max(1, firstFull + 1));
    draw();
    const N = result.pruning.visualTokens;
    setChildren(
      chart,
      barChart(
        result.pruning.keptPerLayer.map((k, i) => ({ label: `L${i + 1}`, value: k, title: `after layer ${i + 1}: ${k} of ${N} kept (${result.pruning.deleted[i]} removed)` })),
        {
          title: `Visual tokens kept after each layer, ${result.pruning.policy}`,
          xLabel: 'decoder layer',
          yLabel: 'visual tokens kept',
          yDomain: [0, N],
          color: '#c2410c',
          overlay: { name: 'unpruned', color: '#2357c6', dashed: true, points: result.pruning.keptPerLayer.map((_, i) => ({ x: i, y: N })) },
        },
      ),
    );
  };
  return { show };
}
