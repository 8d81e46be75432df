// The page's entry: checks for WebGPU (a clear page if it is missing), starts the engine worker
// (all GPU work runs there, reached with comlink) and wires the five sections.
import './styles.css';
import * as Comlink from 'comlink';
import type { EngineWorkerApi } from '../../workers/engine.worker';
import { initAskPanel, currentGrid } from './ask-panel';
import { initCalibratePanel } from './calibrate-panel';
import { byId } from './dom';
import { initEvaluatePanel } from './evaluate-panel';
import { errorText } from './format';
import { initModelPanel, showAdapter } from './model-panel';
import { initSeePanel } from './see-panel';
import { refreshControls, setEngine, setIdleText, state } from './state';

function noWebGpu(reason: string): void {
  byId('app').hidden = true;
  byId('no-webgpu').hidden = false;
  byId('no-webgpu-reason').textContent = reason;
  // The section links point into the hidden app: hide them too.
  const nav = document.querySelector<HTMLElement>('.top nav');
  if (nav) nav.hidden = true;
  setIdleText('WebGPU unavailable');
}

async function start(): Promise<void> {
  if (!('gpu' in navigator)) {
    noWebGpu(
      window.isSecureContext
        ? 'This browser does not expose WebGPU (navigator.gpu is missing).'
        : `This page is not a secure context (${location.protocol}//${location.host}), so the browser hides WebGPU. Open it over https:// or from localhost.`,
    );
    return;
  }
  const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module' });
  const api = Comlink.wrap<EngineWorkerApi>(worker);
  worker.addEventListener('error', (e) => {
    setIdleText(`The engine worker failed: ${e.message || 'unknown error'}. Reload the page.`);
  });
  try {
    const { summary } = await api.adapter();
    state.adapter = summary;
    showAdapter(summary);
  } catch (e) {
    worker.terminate();
    noWebGpu(`WebGPU is present but no usable adapter was found: ${errorText(e)}`);
    return;
  }
  setEngine(api);
  byId('no-webgpu').hidden = true;
  byId('app').hidden = false;

  const see = initSeePanel();
  const ask = initAskPanel((r, image) => see.show(r, image, currentGrid()));
  const cal = initCalibratePanel();
  initEvaluatePanel();
  initModelPanel(async () => {
    await cal.onModelLoaded();
    ask.updatePolicyNote();
  });
  refreshControls();
  setIdleText('WebGPU ready: load a model (section 1).');
}

// Never a blank page: anything that escapes a handler is shown instead of swallowed.
window.addEventListener('unhandledrejection', (e) => setIdleText(`Unexpected error: ${errorText(e.reason)}`));
window.addEventListener('error', (e) => setIdleText(`Unexpected error: ${e.message}`));
byId('retry-webgpu').addEventListener('click', () => location.reload());
void start();
