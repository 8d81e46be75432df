// Section 4: calibrate a FitPrune recipe on the shipped set or the user's own images under a
// FLOPs budget, with progress, ETA and cancel; show, download and upload recipes (uploads are
// validated by the worker against the loaded model). The last recipe is kept in localStorage
// so a reload never loses a long calibration.
import type { CalibrationProgress, CalibrationSample } from '../prune/calibrate';
import type { Recipe } from '../prune/recipe';
import { barChart } from './charts';
import { folderImages, loadUrlDataset, SHIPPED_CALIB } from './data';
import { byId, downloadBlob, fillKv, h, selectedRadio, setChildren } from './dom';
import { errorText, fmtFlops, fmtPct, fmtSeconds, isAbort } from './format';
import { recipeKeep } from './policy';
import { Comlink, engine, requestId, runJob, state, type RecipeState } from './state';

const STORAGE_KEY = 'fitprune-web:last-recipe';

export interface CalibrationSet {
  samples: CalibrationSample[];
  /** Same id → the worker reuses pass A (statistics) across budgets. */
  setId: string;
  source: string;
}

/** The calibration images the user chose in this section, at most `limit` of them. */
export async function calibrationSet(signal?: AbortSignal): Promise<CalibrationSet> {
  const limit = Number(byId<HTMLInputElement>('cal-limit').value);
  if (!Number.isInteger(limit) || limit < 1) throw new Error('Calibration images (at most) must be a whole number ≥ 1.');
  if (selectedRadio('cal-source') === 'folder') {
    const files = Array.from(byId<HTMLInputElement>('cal-folder-input').files ?? []);
    if (files.length === 0) throw new Error('Pick a folder of calibration images first (or use the shipped set).');
    const question = byId<HTMLInputElement>('cal-question').value;
    const items = folderImages(files, question, limit);
    const root = (files[0] as File & { webkitRelativePath?: string }).webkitRelativePath?.split('/')[0] ?? 'folder';
    return {
      samples: items.map((i) => ({ image: i.image, question: i.question })),
      setId: `folder:${root}:${items.map((i) => `${i.path}:${i.image.size}`).join('|')}:${question}`,
      source: `folder ${root} (${items.length} images, “${question.trim()}”)`,
    };
  }
  const items = await loadUrlDataset(SHIPPED_CALIB, limit, signal);
  return { samples: items.map((i) => ({ image: i.image, question: i.question })), setId: `shipped:${limit}`, source: `/${SHIPPED_CALIB} (first ${items.length})` };
}

export function progressText(p: CalibrationProgress): string {
  const what =
    p.phase === 'statistics'
      ? `Statistics (pass A): image ${p.sample} of ${p.samples}`
      : `Fitting (pass B), search step ${p.step} of about ${p.steps}, α = ${p.alpha?.toFixed(3)}: image ${p.sample} of ${p.samples}`;
  return `${what} — ${fmtSeconds(p.elapsedSeconds)} elapsed, about ${fmtSeconds(p.etaSeconds)} left`;
}

function slug(s: string): string {
  return s.replace(/^https?:\/\/[^/]+\//, '').replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'model';
}

function renderRecipe(view: HTMLElement, rs: RecipeState | null): void {
  if (!rs) {
    setChildren(view, h('p', { class: 'hint' }, 'No recipe yet: calibrate one, or upload a recipe file.'));
    return;
  }
  const r = rs.recipe;
  const N = r.referenceVisualTokens;
  const kept: number[] = [];
  let n = N;
  for (const k of r.counts) kept.push((n = Math.max(0, n - k)));
  const dl = h('dl', { class: 'kv', id: 'recipe-facts' });
  const arch = r.flops.architecture;
  fillKv(dl, [
    ['from', rs.origin],
    ['model', `${r.model.id} (fingerprint ${r.model.fingerprint}, ${r.model.layers} layers)`],
    ['budget', r.budget !== null ? `${fmtPct(r.budget, 0)} of FLOPs kept (reference convention)` : 'none recorded'],
    ['FLOPs kept, reference', `${fmtPct(r.flops.reference.ratio)} (${fmtFlops(r.flops.reference.macs)} of ${fmtFlops(r.flops.reference.baselineMacs)} MACs on visual tokens)`, r.flops.reference.ratio, 'recipe-ref'],
    ['FLOPs kept, architecture', arch ? `${fmtPct(arch.ratio)} (${fmtFlops(arch.flops)} of ${fmtFlops(arch.baselineFlops)} FLOPs, whole prefill of a ${arch.promptTokens}-token prompt)` : '—', arch?.ratio, 'recipe-arch'],
    ['alpha', r.alpha !== null ? r.alpha.toFixed(4) : '—', r.alpha ?? undefined, 'recipe-alpha'],
    ['deleted per layer', r.counts.join(', ')],
    ['calibration', r.calibration ? `${r.calibration.samples} images from ${r.calibration.source}, ${r.calibration.searchSteps} search steps, ${fmtSeconds(r.calibration.seconds)}` : '—'],
  ]);
  const warn = rs.feasible === false ? h('p', { class: 'error' }, 'The budget was not reachable on these images: this is the most pruning the search found.') : null;
  const chart = h('div', { class: 'chart', id: 'recipe-chart' });
  chart.append(
    barChart(
      kept.map((k, i) => ({ label: `L${i + 1}`, value: k, title: `layer ${i + 1}: deletes ${r.counts[i]}, ${k} of ${N} left` })),
      { title: 'Recipe: visual tokens left after each layer', xLabel: 'decoder layer', yLabel: 'visual tokens left', yDomain: [0, N], color: '#2357c6' },
    ),
  );
  setChildren(view, warn, dl, chart);
}

export function initCalibratePanel(): { onModelLoaded: () => Promise<void> } {
  const runBtn = byId<HTMLButtonElement>('cal-run');
  const cancelBtn = byId<HTMLButtonElement>('cal-cancel');
  const budget = byId<HTMLInputElement>('cal-budget');
  const budgetText = byId('cal-budget-text');
  const box = byId('cal-progress');
  const bar = byId<HTMLProgressElement>('cal-bar');
  const barText = byId('cal-progress-text');
  const err = byId('cal-error');
  const view = byId('recipe-view');
  const recipeErr = byId('recipe-error');
  const upload = byId<HTMLInputElement>('recipe-upload');
  const folder = byId<HTMLInputElement>('cal-folder-input');

  const showBudget = () => {
    budgetText.textContent = `${budget.value} % of FLOPs kept`;
    budget.setAttribute('aria-valuetext', `${budget.value} percent of FLOPs kept`);
  };
  budget.addEventListener('input', showBudget);
  showBudget();
  folder.addEventListener('change', () => ((byId<HTMLInputElement>('cal-folder').checked = true)));

  state.on('recipe', () => {
    renderRecipe(view, state.recipe);
    if (state.recipe) {
      try {
        localStorage.setItem(STORAGE_KEY, JSON.stringify(state.recipe));
      } catch {
        /* storage full or disabled: the download button still saves it */
      }
    }
  });

  let active: string | null = null;
  // Cancel stops the shipped set's downloads (in this thread) as well as the worker's job.
  let downloads: AbortController | null = null;
  cancelBtn.addEventListener('click', () => {
    downloads?.abort(new DOMException('cancelled', 'AbortError'));
    if (active) void engine().abort(active);
  });

  runBtn.addEventListener('click', () => {
    err.textContent = '';
    const keep = Number(budget.value) / 100;
    void runJob(`calibrating for ${budget.value} % of FLOPs`, async () => {
      const id = requestId('calibrate');
      active = id;
      cancelBtn.disabled = false;
      box.hidden = false;
      bar.value = 0;
      barText.textContent = 'Preparing the images…';
      downloads = new AbortController();
      try {
        const set = await calibrationSet(downloads.signal);
        const onProgress = (p: CalibrationProgress) => {
          const total = p.elapsedSeconds + p.etaSeconds;
          bar.value = total > 0 ? p.elapsedSeconds / total : 0;
          barText.textContent = progressText(p);
        };
        // The worker's calibrate takes the fraction of FLOPs to REMOVE; the page speaks in kept.
        const result = await engine().calibrate(set.samples, keep, id, { setId: set.setId, source: set.source }, Comlink.proxy(onProgress));
        bar.value = 1;
        barText.textContent = `Done in ${fmtSeconds(result.seconds)}: ${fmtPct(result.recipe.flops.reference.ratio)} of FLOPs kept (reference).`;
        state.setRecipe({ recipe: result.recipe, origin: `calibrated here on ${set.source}`, feasible: result.feasible });
      } catch (e) {
        barText.textContent = isAbort(e) ? 'Cancelled: the previous recipe (if any) is unchanged.' : '';
        if (!isAbort(e)) err.textContent = `Calibration failed: ${errorText(e)}`;
      } finally {
        active = null;
        downloads = null;
        cancelBtn.disabled = true;
      }
    });
  });

  byId('recipe-download').addEventListener('click', () => {
    const r = state.recipe?.recipe;
    if (!r) return;
    const name = `fitprune-recipe-${slug(r.model.id)}-${Math.round(recipeKeep(r) * 100)}pct.json`;
    downloadBlob(new Blob([`${JSON.stringify(r, null, 2)}\n`], { type: 'application/json' }), name);
  });

  upload.addEventListener('change', async () => {
    recipeErr.textContent = '';
    const file = upload.files?.[0];
    upload.value = '';
    if (!file) return;
    if (file.size > 5 * 2 ** 20) return void (recipeErr.textContent = `Refused ${file.name}: ${(file.size / 2 ** 20).toFixed(1)} MiB is far too large for a recipe.`);
    try {
      const recipe = await engine().checkRecipe(await file.text());
      state.setRecipe({ recipe, origin: `uploaded file ${file.name}` });
    } catch (e) {
      recipeErr.textContent = `Refused ${file.name}: ${errorText(e)}`;
    }
  });

  /** After a (new) model loads: keep the recipe only if it fits; else restore the stored one if it does. */
  const onModelLoaded = async () => {
    recipeErr.textContent = '';
    if (state.recipe) {
      try {
        await engine().checkRecipe(JSON.stringify(state.recipe.recipe));
        return;
      } catch (e) {
        recipeErr.textContent = `The previous recipe does not fit this model and was set aside (${errorText(e)}). Download it first if you need it: it stays stored until another recipe replaces it.`;
        const stored = state.recipe;
        state.setRecipe(null);
        try {
          localStorage.setItem(STORAGE_KEY, JSON.stringify(stored));
        } catch {
          /* ignore */
        }
        return;
      }
    }
    let stored: RecipeState | null = null;
    try {
      stored = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null') as RecipeState | null;
    } catch {
      stored = null;
    }
    if (!stored?.recipe) return;
    try {
      const recipe: Recipe = await engine().checkRecipe(JSON.stringify(stored.recipe));
      state.setRecipe({ recipe, origin: `restored from your last visit (${stored.origin})`, feasible: stored.feasible });
    } catch {
      /* a recipe for another model: leave it stored, say nothing */
    }
  };
  return { onModelLoaded };
}
