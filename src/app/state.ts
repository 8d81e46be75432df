// Shared page state (model, recipe, the job in progress) with change events, and the one-job-
// at-a-time rule: the engine runs requests one after another anyway, so the page runs one job
// (load, ask, calibrate, evaluate) at a time and says which, instead of queueing silently.
import * as Comlink from 'comlink';
import type { AdapterSummary } from '../gpu/context';
import type { ModelInfo } from '../engine/engine';
import type { Recipe } from '../prune/recipe';
import type { EngineWorkerApi } from '../../workers/engine.worker';

export type EngineApi = Comlink.Remote<EngineWorkerApi>;

export interface RecipeState {
  recipe: Recipe;
  /** Where it came from, for the user ("calibrated on …", "uploaded file x.json"). */
  origin: string;
  /** Calibration outcome when calibrated here: whether the budget was reached. */
  feasible?: boolean;
}

type Key = 'model' | 'recipe' | 'busy' | 'eval';

class AppState extends EventTarget {
  adapter: AdapterSummary | null = null;
  model: ModelInfo | null = null;
  recipe: RecipeState | null = null;
  busy: string | null = null;
  hasEvalResults = false;

  setModel(m: ModelInfo | null): void {
    this.model = m;
    this.changed('model');
  }

  setRecipe(r: RecipeState | null): void {
    this.recipe = r;
    this.changed('recipe');
  }

  setBusy(label: string | null): void {
    this.busy = label;
    this.changed('busy');
  }

  setEvalResults(has: boolean): void {
    this.hasEvalResults = has;
    this.changed('eval');
  }

  private changed(key: Key): void {
    this.dispatchEvent(new Event(key));
    refreshControls();
  }

  on(key: Key, fn: () => void): void {
    this.addEventListener(key, fn);
  }
}

export const state = new AppState();

let api: EngineApi | null = null;
export function setEngine(e: EngineApi): void {
  api = e;
}
export function engine(): EngineApi {
  if (!api) throw new Error('the engine worker is not running');
  return api;
}

let counter = 0;
/** Request ids let the page abort one request in the worker (AbortSignals cannot cross threads). */
export function requestId(kind: string): string {
  return `${kind}-${++counter}-${Date.now().toString(36)}`;
}

/**
 * Buttons say what they need in data-requires ("model idle recipe eval"); one pass keeps every
 * button's disabled state right after any change.
 */
export function refreshControls(): void {
  for (const el of document.querySelectorAll<HTMLButtonElement | HTMLInputElement>('[data-requires]')) {
    const needs = (el.dataset.requires ?? '').split(/\s+/).filter(Boolean);
    const ok = needs.every((n) => (n === 'model' ? state.model !== null : n === 'idle' ? state.busy === null : n === 'recipe' ? state.recipe !== null : n === 'eval' ? state.hasEvalResults : true));
    el.disabled = !ok;
  }
  const status = document.getElementById('job-status');
  if (status && state.busy) {
    status.textContent = `Working: ${state.busy}…`;
    status.classList.add('busy');
  }
}

/** Sets the header's status line (when no job runs). */
export function idleStatus(text: string): void {
  const status = document.getElementById('job-status');
  if (status && !state.busy) {
    status.textContent = text;
    status.classList.remove('busy');
  }
}

let idleText = '';
export function setIdleText(text: string): void {
  idleText = text;
  idleStatus(text);
}

/** Runs a job if none is running; returns false (and does nothing) if another job is busy. */
export async function runJob(label: string, job: () => Promise<void>): Promise<boolean> {
  if (state.busy) return false;
  state.setBusy(label);
  try {
    await job();
  } finally {
    state.setBusy(null);
    idleStatus(idleText);
  }
  return true;
}

export { Comlink };
