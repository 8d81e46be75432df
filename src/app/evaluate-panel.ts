// Section 5: accuracy against FLOPs over an eval set, across policies and budgets: each budget
// gets a FitPrune recipe calibrated on section 4's images (pass A shared), Random the same
// counts, FastV the ratio that fits. Rows appear as they finish; cancel keeps finished rows.
import type { EvalItem, EvalRow } from '../prune/evaluate';
import { fastvRatioForBudget } from '../prune/evaluate';
import type { CalibrationProgress } from '../prune/calibrate';
import type { PruningPolicy } from '../prune/policies';
import { calibrationSet, progressText } from './calibrate-panel';
import { lineChart, type Series } from './charts';
import { filesDataset, loadUrlDataset, SHIPPED_EVAL, type LoadedItem } from './data';
import { byId, downloadBlob, h, selectedRadio, setChildren } from './dom';
import { count, errorText, fmtPct, isAbort } from './format';
import { FASTV_LAYER, RANDOM_SEED, referenceModel } from './policy';
import { Comlink, engine, requestId, runJob, state } from './state';

type Kind = 'none' | 'fitprune' | 'fastv' | 'random';
interface Result {
  kind: Kind;
  /** Fraction of FLOPs kept the row was set for (null: unpruned). */
  keep: number | null;
  row: EvalRow;
}

const COLORS: Record<Kind, string> = { none: '#1c1f24', fitprune: '#c2410c', fastv: '#7c3aed', random: '#6b7280' };
const NAMES: Record<Kind, string> = { none: 'unpruned', fitprune: 'FitPrune', fastv: `FastV (K=${FASTV_LAYER})`, random: 'random' };

/** "50, 30 %" → [0.5, 0.3]; an error message for anything else. */
export function parseBudgets(text: string): number[] | string {
  const parts = text.split(/[\s,;]+/).map((s) => s.replace(/%$/, '')).filter(Boolean);
  if (parts.length === 0) return 'Enter at least one budget, e.g. 50, 30 (percent of FLOPs kept).';
  const out: number[] = [];
  for (const p of parts) {
    const v = Number(p);
    if (!Number.isFinite(v) || v <= 0 || v >= 100) return `"${p}" is not a budget: each is a percentage of FLOPs kept, strictly between 0 and 100.`;
    out.push(v / 100);
  }
  return [...new Set(out)].sort((a, b) => b - a);
}

function types(results: Result[]): string[] {
  return [...new Set(results.flatMap((r) => Object.keys(r.row.byType)))].sort();
}

function csv(results: Result[]): string {
  const ts = types(results);
  const head = ['policy', 'policy_detail', 'budget_flops_kept', 'items', 'accuracy', ...ts.map((t) => `accuracy_${t}`), 'flops_kept_reference', 'flops_kept_architecture', 'mean_prefill_ms'];
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = results.map((r) =>
    [r.kind, r.row.policy, r.keep ?? '', r.row.items, r.row.accuracy, ...ts.map((t) => r.row.byType[t]?.accuracy ?? ''), r.row.meanReferenceRatio, r.row.meanArchitectureRatio, r.row.meanPrefillMs.toFixed(2)]
      .map((v) => q(String(v)))
      .join(','),
  );
  return `${[head.join(','), ...lines].join('\n')}\n`;
}

export function initEvaluatePanel(): void {
  const runBtn = byId<HTMLButtonElement>('eval-run');
  const cancelBtn = byId<HTMLButtonElement>('eval-cancel');
  const box = byId('eval-progress');
  const bar = byId<HTMLProgressElement>('eval-bar');
  const barText = byId('eval-progress-text');
  const err = byId('eval-error');
  const table = byId<HTMLTableElement>('eval-table');
  const chart = byId('eval-chart');
  const folderInput = byId<HTMLInputElement>('eval-folder-input');
  const filesInput = byId<HTMLInputElement>('eval-files-input');
  let results: Result[] = [];
  let lastPicked: HTMLInputElement | null = null;
  for (const input of [folderInput, filesInput]) {
    input.addEventListener('change', () => {
      lastPicked = input;
      byId<HTMLInputElement>('eval-upload').checked = true;
    });
  }

  const render = () => {
    const ts = types(results);
    setChildren(
      table.tHead!,
      h('tr', {}, ...['policy', 'budget (FLOPs kept)', 'items', 'accuracy', ...ts.map((t) => `accuracy: ${t}`), 'FLOPs kept, reference', 'FLOPs kept, architecture', 'mean prefill'].map((c) => h('th', { scope: 'col' }, c))),
    );
    setChildren(
      table.tBodies[0]!,
      ...results.map((r) =>
        h(
          'tr',
          { 'data-kind': r.kind },
          h('th', { scope: 'row' }, r.row.policy),
          h('td', {}, r.keep === null ? '—' : fmtPct(r.keep, 0)),
          h('td', {}, r.row.items),
          h('td', { 'data-value': r.row.accuracy }, fmtPct(r.row.accuracy)),
          ...ts.map((t) => h('td', {}, r.row.byType[t] ? `${fmtPct(r.row.byType[t]!.accuracy, 0)} (${r.row.byType[t]!.correct}/${r.row.byType[t]!.total})` : '—')),
          h('td', { 'data-value': r.row.meanReferenceRatio }, fmtPct(r.row.meanReferenceRatio)),
          h('td', { 'data-value': r.row.meanArchitectureRatio }, fmtPct(r.row.meanArchitectureRatio)),
          h('td', {}, `${r.row.meanPrefillMs.toFixed(0)} ms`),
        ),
      ),
    );
    const conv = selectedRadio('eval-x') === 'architecture' ? 'architecture' : 'reference';
    const x = (r: Result) => (conv === 'architecture' ? r.row.meanArchitectureRatio : r.row.meanReferenceRatio);
    const series: Series[] = (['none', 'fitprune', 'fastv', 'random'] as Kind[])
      .map((k) => {
        const rs = results.filter((r) => r.kind === k).sort((a, b) => x(a) - x(b));
        return {
          name: NAMES[k],
          color: COLORS[k],
          dashed: k === 'random',
          pointsOnly: k === 'none',
          points: rs.map((r) => ({ x: x(r), y: r.row.accuracy, label: `${r.row.policy}: accuracy ${fmtPct(r.row.accuracy)} at ${fmtPct(x(r))} of FLOPs (${conv})` })),
        };
      })
      .filter((s) => s.points.length > 0);
    setChildren(
      chart,
      results.length
        ? lineChart(series, {
            title: `Accuracy against FLOPs kept (${conv} convention)`,
            xLabel: `FLOPs kept, ${conv} convention`,
            yLabel: 'accuracy (exact match)',
            xDomain: [0, 1],
            yDomain: [0, 1],
            xFormat: (v) => `${Math.round(v * 100)} %`,
            yFormat: (v) => `${Math.round(v * 100)} %`,
            height: 320,
          })
        : h('p', { class: 'hint' }, 'Results appear here as each policy finishes.'),
    );
    state.setEvalResults(results.length > 0);
  };
  for (const r of document.querySelectorAll<HTMLInputElement>('input[name="eval-x"]')) r.addEventListener('change', render);
  render();

  let active: string | null = null;
  let cancelled = false;
  // Cancel also stops the evaluation and calibration sets' downloads (in this thread).
  let downloads: AbortController | null = null;
  cancelBtn.addEventListener('click', () => {
    cancelled = true;
    downloads?.abort(new DOMException('cancelled', 'AbortError'));
    if (active) void engine().abort(active);
  });

  byId('eval-csv').addEventListener('click', () => {
    if (results.length) downloadBlob(new Blob([csv(results)], { type: 'text/csv' }), 'fitprune-eval.csv');
  });

  const loadItems = async (limit: number, signal: AbortSignal): Promise<LoadedItem[]> => {
    if (selectedRadio('eval-source') === 'upload') {
      const input = lastPicked ?? (folderInput.files?.length ? folderInput : filesInput);
      const files = Array.from(input.files ?? []);
      if (files.length === 0) throw new Error('Pick your JSONL and its images (a folder, or the files together) first, or use the shipped set.');
      return filesDataset(files, limit);
    }
    return loadUrlDataset(SHIPPED_EVAL, limit, signal);
  };

  runBtn.addEventListener('click', () => {
    err.textContent = '';
    const model = state.model;
    if (!model) return void (err.textContent = 'Load a model first (section 1).');
    const kinds = (['none', 'fitprune', 'fastv', 'random'] as Kind[]).filter((k) => byId<HTMLInputElement>(`eval-${k}`).checked);
    if (kinds.length === 0) return void (err.textContent = 'Tick at least one policy.');
    const budgets = kinds.some((k) => k !== 'none') ? parseBudgets(byId<HTMLInputElement>('eval-budgets').value) : [];
    if (typeof budgets === 'string') return void (err.textContent = budgets);
    const limit = Number(byId<HTMLInputElement>('eval-limit').value);
    if (!Number.isInteger(limit) || limit < 1) return void (err.textContent = 'Items (at most) must be a whole number ≥ 1.');
    const maxNewTokens = Number(byId<HTMLInputElement>('eval-max-tokens').value);
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1 || maxNewTokens > 64) return void (err.textContent = 'Max new tokens must be a whole number from 1 to 64.');

    void runJob('evaluating', async () => {
      cancelled = false;
      cancelBtn.disabled = false;
      box.hidden = false;
      bar.value = 0;
      barText.textContent = 'Loading the evaluation set…';
      const previous = results;
      const downloadSignal = (downloads = new AbortController()).signal;
      try {
        const loaded = await loadItems(limit, downloadSignal);
        const missing = loaded.findIndex((i) => i.answer === undefined);
        if (missing >= 0) throw new Error(`item ${missing + 1} (${loaded[missing]!.path}) has no "answer": evaluation needs one per item`);
        const items: EvalItem[] = loaded.map((i) => ({ image: i.image, question: i.question, answer: i.answer!, type: i.type }));
        results = [];
        render();
        const perBudget = kinds.filter((k) => k !== 'none');
        const totalRows = (kinds.includes('none') ? 1 : 0) + perBudget.length * budgets.length;
        let rowsDone = 0;
        const evalRow = async (kind: Kind, policy: PruningPolicy, keep: number | null) => {
          if (cancelled) throw new DOMException('cancelled', 'AbortError');
          const id = requestId('eval');
          active = id;
          const label = `${NAMES[kind]}${keep === null ? '' : ` at ${fmtPct(keep, 0)}`}`;
          const onProgress = (d: number, n: number) => {
            bar.value = (rowsDone + d / n) / totalRows;
            barText.textContent = `${label}: item ${d} of ${n} (row ${rowsDone + 1} of ${totalRows})`;
          };
          onProgress(0, items.length);
          const row = await engine().evaluate(items, policy, id, { budget: keep, maxNewTokens }, Comlink.proxy(onProgress));
          active = null;
          rowsDone++;
          results.push({ kind, keep, row });
          render();
        };
        if (kinds.includes('none')) await evalRow('none', { kind: 'none' }, null);
        const needsRecipe = kinds.includes('fitprune') || kinds.includes('random');
        const set = needsRecipe ? await calibrationSet(downloadSignal) : null;
        for (const keep of budgets as number[]) {
          let recipe = null;
          if (set) {
            if (cancelled) throw new DOMException('cancelled', 'AbortError');
            const id = requestId('eval-cal');
            active = id;
            const onCal = (p: CalibrationProgress) => void (barText.textContent = `Calibrating for ${fmtPct(keep, 0)}: ${progressText(p)}`);
            recipe = (await engine().calibrate(set.samples, keep, id, { setId: set.setId, source: set.source }, Comlink.proxy(onCal))).recipe;
            active = null;
          }
          const r = recipe ? { counts: recipe.counts, referenceVisualTokens: recipe.referenceVisualTokens } : null;
          if (kinds.includes('fitprune') && r) await evalRow('fitprune', { kind: 'fitprune', recipe: r }, keep);
          if (kinds.includes('fastv')) await evalRow('fastv', { kind: 'fastv', layer: FASTV_LAYER, ratio: fastvRatioForBudget(referenceModel(model), model.imageTokens, keep, FASTV_LAYER) }, keep);
          if (kinds.includes('random') && r) await evalRow('random', { kind: 'random', recipe: r, seed: RANDOM_SEED }, keep);
        }
        bar.value = 1;
        barText.textContent = `Done: ${count(results.length, 'row')} over ${count(items.length, 'item')}.`;
      } catch (e) {
        if (results.length === 0 && previous.length) {
          results = previous; // nothing new finished: keep the last run's table
          render();
        }
        if (isAbort(e)) barText.textContent = `Cancelled; ${results.length} finished row${results.length === 1 ? '' : 's'} kept.`;
        else err.textContent = `Evaluation stopped: ${errorText(e)}`;
      } finally {
        active = null;
        downloads = null;
        cancelBtn.disabled = true;
      }
    });
  });
}
