// Section 1: choose and load a model (demo, Hugging Face id, local folder) with per-file
// download progress, an overall bar and cancel; show the model and the GPU adapter.
import type { AdapterSummary } from '../gpu/context';
import type { ModelInfo } from '../engine/engine';
import type { LoadProgress } from '../load/progress';
import { BROWSER_CACHE_NAME } from '../load/sources';
import type { WorkerModelRef } from '../../workers/engine.worker';
import { EMBEDDED_MODEL } from '../data/embedded';
import { publicUrl } from './data';
import { byId, fillKv, h, selectedRadio } from './dom';
import { errorText, fmtBytes, fmtMs, isAbort } from './format';
import { patchGrid } from './grid';
import { Comlink, engine, requestId, runJob, setIdleText, state } from './state';

/** The embedded model's folder under the page's base URL (src/data/embedded.ts says where). */
export const DEMO_MODEL_PATH = EMBEDDED_MODEL.url.replace(/^\//, '');
const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;

export function showAdapter(a: AdapterSummary): void {
  const name = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' · ') || 'unknown adapter';
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  const chip = (on: boolean, label: string) => h('span', { class: `chip ${on ? 'on' : 'off'}` }, `${label}: ${on ? 'yes' : 'no'}`);
  fillKv(byId('adapter-info'), [
    ['name', h('span', { 'data-adapter-name': true }, name)],
    ['kind', a.isFallbackAdapter ? 'software (fallback) adapter: expect about 1 GFLOP/s' : 'hardware adapter'],
    ['features', h('span', {}, chip(a.features.shaderF16, 'shader-f16'), chip(a.features.subgroups, 'subgroups'), chip(a.features.timestampQuery, 'timestamp-query'))],
    ['f16 weights', a.features.shaderF16 ? 'native f16 arithmetic in the shaders' : 'packed f16, unpacked to f32 in the shaders (no shader-f16)'],
    ['max buffer', mib(a.limits.maxBufferSize), a.limits.maxBufferSize],
    ['max storage binding', mib(a.limits.maxStorageBufferBindingSize), a.limits.maxStorageBufferBindingSize],
    ['workgroup storage', `${(a.limits.maxComputeWorkgroupStorageSize / 1024).toFixed(0)} KiB`, a.limits.maxComputeWorkgroupStorageSize],
    ['invocations / workgroup', String(a.limits.maxComputeInvocationsPerWorkgroup), a.limits.maxComputeInvocationsPerWorkgroup],
    ['workgroups / dimension', String(a.limits.maxComputeWorkgroupsPerDimension), a.limits.maxComputeWorkgroupsPerDimension],
    ['storage buffers / stage', String(a.limits.maxStorageBuffersPerShaderStage), a.limits.maxStorageBuffersPerShaderStage],
  ]);
}

function showModel(info: ModelInfo): void {
  const g = patchGrid(info);
  const layer = Array.isArray(info.visionFeatureLayer) ? info.visionFeatureLayer.join(', ') : String(info.visionFeatureLayer ?? 'last');
  fillKv(byId('model-info'), [
    ['source', info.source],
    ['type', `${info.modelType} (${info.textModelType} decoder, ${info.visionModelType} tower)`],
    ['language model', `${info.textLayers} layers, hidden ${info.hiddenSize}, vocabulary ${info.vocabSize}`],
    ['vision tower', `${info.visionLayers} layers, ${info.imageSize} px tiles, feature layer ${layer}`],
    [
      'visual tokens',
      info.variableImageTokens
        ? `${info.imageTokens} for a ${info.imageSize} px square image; more or fewer with the image's size and shape (tiles)`
        : `${info.imageTokens} per image (${g.rows}×${g.cols} patches of ${g.patchPixels} px${g.offset ? ' + CLS' : ''})`,
      info.imageTokens,
    ],
  ]);
}

/** Fills the Hub field's suggestions with real ids of every supported family (best effort). */
async function suggestHubIds(): Promise<void> {
  try {
    const families = await engine().families();
    byId('hub-suggestions').replaceChildren(...families.flatMap((f) => f.examples.map((id) => h('option', { value: id }, `${id} (${f.name})`))));
  } catch {
    // No WebGPU yet: the adapter section says why; suggestions are a convenience.
  }
}

interface FileRow {
  bar: HTMLProgressElement;
  text: HTMLElement;
  done: number;
  total: number;
}

export function initModelPanel(onLoaded: (info: ModelInfo) => Promise<void>): void {
  const loadBtn = byId<HTMLButtonElement>('load-btn');
  const cancelBtn = byId<HTMLButtonElement>('load-cancel');
  const err = byId('model-error');
  const status = byId('model-status');
  const hubInput = byId<HTMLInputElement>('hub-id');
  const folderInput = byId<HTMLInputElement>('folder-input');
  const box = byId('load-progress');
  const overall = byId<HTMLProgressElement>('load-overall');
  const overallText = byId('load-overall-text');
  const upload = byId<HTMLProgressElement>('load-upload');
  const uploadText = byId('load-upload-text');
  const filesBody = byId('load-files');
  loadBtn.dataset.requires = 'idle';
  void suggestHubIds();

  // Typing in a field or picking a folder selects its radio: fewer clicks, no surprise.
  hubInput.addEventListener('input', () => ((byId<HTMLInputElement>('src-hub').checked = true)));
  folderInput.addEventListener('change', () => ((byId<HTMLInputElement>('src-folder').checked = true)));
  hubInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') loadBtn.click();
  });

  byId('clear-cache').addEventListener('click', async () => {
    err.textContent = '';
    try {
      const removed = await caches.delete(BROWSER_CACHE_NAME);
      status.textContent = removed ? 'Cached model files deleted: the next load downloads them again.' : 'No cached model files.';
    } catch (e) {
      err.textContent = `Could not clear the cache: ${errorText(e)}`;
    }
  });

  /** What to load, or an error message for the user. */
  const chooseRef = (): { ref: WorkerModelRef; label: string } | string => {
    const source = selectedRadio('model-source');
    if (source === 'hub') {
      const id = hubInput.value.trim().replace(/^hub:/, '');
      if (!id) return 'Enter a Hugging Face model id such as llava-hf/llava-1.5-7b-hf.';
      if (!HUB_ID.test(id)) return `"${id}" is not a Hugging Face model id: use owner/name, e.g. llava-hf/llava-1.5-7b-hf.`;
      return { ref: `hub:${id}`, label: id };
    }
    if (source === 'folder') {
      const files = Array.from(folderInput.files ?? []);
      if (files.length === 0) return 'Pick a model folder first.';
      const names = files.map((f) => (f as File & { webkitRelativePath?: string }).webkitRelativePath?.split('/').slice(1).join('/') || f.name);
      if (!names.includes('config.json')) return 'The picked folder has no config.json at its top level: pick the folder that holds config.json, the tokenizer files and the *.safetensors.';
      if (!names.some((n) => n.endsWith('.safetensors'))) return 'The picked folder has no .safetensors weights (only safetensors checkpoints load; .bin/.pt do not).';
      const root = (files[0] as File & { webkitRelativePath?: string }).webkitRelativePath?.split('/')[0] || 'local folder';
      return { ref: { picked: files, name: root }, label: `folder ${root}` };
    }
    return { ref: publicUrl(DEMO_MODEL_PATH), label: 'the embedded demo model' };
  };

  let currentLoad: string | null = null;
  cancelBtn.addEventListener('click', () => {
    if (currentLoad) void engine().abort(currentLoad);
  });

  loadBtn.addEventListener('click', () => {
    err.textContent = '';
    const choice = chooseRef();
    if (typeof choice === 'string') {
      err.textContent = choice;
      return;
    }
    void runJob(`loading ${choice.label}`, async () => {
      const id = requestId('load');
      currentLoad = id;
      cancelBtn.disabled = false;
      box.hidden = false;
      filesBody.replaceChildren();
      const rows = new Map<string, FileRow>();
      overall.value = 0;
      upload.value = 0;
      overallText.textContent = '';
      uploadText.textContent = '';
      status.textContent = `Loading ${choice.label}…`;
      const onProgress = (p: LoadProgress) => {
        if (p.phase === 'upload-to-gpu') {
          upload.value = p.bytesTotal ? p.bytesDone / p.bytesTotal : 0;
          uploadText.textContent = `${fmtBytes(p.bytesDone)} / ${fmtBytes(p.bytesTotal)}`;
          return;
        }
        let row = rows.get(p.file);
        if (!row) {
          const bar = h('progress', { max: 1, value: 0, 'aria-label': `download ${p.file}` });
          const text = h('span', { class: 'num' });
          filesBody.append(h('tr', {}, h('td', {}, p.file), h('td', {}, bar), h('td', {}, text)));
          row = { bar, text, done: 0, total: 0 };
          rows.set(p.file, row);
        }
        row.done = p.bytesDone;
        row.total = p.bytesTotal;
        row.bar.value = p.bytesTotal ? p.bytesDone / p.bytesTotal : 1;
        row.text.textContent = `${fmtBytes(p.bytesDone)} / ${fmtBytes(p.bytesTotal)}`;
        let done = 0;
        let total = 0;
        for (const r of rows.values()) {
          done += r.done;
          total += r.total;
        }
        overall.value = total ? done / total : 0;
        overallText.textContent = `${fmtBytes(done)} / ${fmtBytes(total)} (${rows.size} file${rows.size === 1 ? '' : 's'})`;
      };
      const t0 = performance.now();
      try {
        // Before any weight is downloaded: what the GPU will hold, and a refusal when it cannot.
        const plan = await engine().inspect(choice.ref, id);
        const estimate = `${plan.family} model, ${fmtBytes(plan.gpuBytes)} of weights on the GPU (${fmtBytes(plan.downloadBytes)} to read; largest tensor ${fmtBytes(plan.largestTensor.bytes)}, adapter limit ${fmtBytes(plan.maxBufferSize)} per buffer)`;
        if (plan.refusal) throw new Error(`it cannot run on this GPU: ${plan.refusal}`);
        status.textContent = `Loading ${choice.label}: ${estimate}…`;
        // A cache that fails (storage full) does not stop the load: say so where errors appear.
        const onWarning = (message: string) => void (err.textContent = `Note: ${message}`);
        const info = await engine().load(choice.ref, id, Comlink.proxy(onProgress), Comlink.proxy(onWarning));
        const loadMs = performance.now() - t0;
        state.setModel(info);
        showModel(info);
        status.textContent = `Loaded in ${fmtMs(loadMs)}. Compiling the GPU pipelines (one throw-away answer)…`;
        cancelBtn.disabled = true;
        const warm = await engine().warmup();
        status.textContent = `Ready: ${info.source} (loaded in ${fmtMs(loadMs)}, pipelines compiled in ${fmtMs(warm)}).`;
        status.classList.add('ok');
        setIdleText(`Model ready: ${choice.label}`);
        await onLoaded(info);
      } catch (e) {
        status.classList.remove('ok');
        status.textContent = state.model ? `Still using the previous model (${state.model.source}).` : '';
        err.textContent = isAbort(e) ? 'Loading cancelled.' : `Could not load ${choice.label}: ${errorText(e)}`;
      } finally {
        currentLoad = null;
        cancelBtn.disabled = true;
      }
    });
  });
}
