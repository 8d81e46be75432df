// Section 2: an image (drop, paste, pick, or a shipped sample) with the model's patch grid over
// it, a question, and two streamed answers side by side: unpruned, then pruned, with metrics.
import type { GenerateResult, TokenEvent } from '../engine/engine';
import type { WorkerGenerateRequest } from '../../workers/engine.worker';
import { isCorrect } from '../data/dataset';
import { fetchSampleImage, loadSamples, type Sample } from './data';
import { byId, fillKv, h, setChildren } from './dom';
import { count, errorText, fmtMs, fmtPct, isAbort } from './format';
import { DEMO_GRID, drawImageWithGrid, patchGrid, type PatchGrid } from './grid';
import { buildPolicy, type PolicyKind } from './policy';
import { Comlink, engine, requestId, runJob, state } from './state';

export interface CurrentImage {
  blob: Blob;
  bitmap: ImageBitmap;
  name: string;
}

let current: CurrentImage | null = null;
export const currentGrid = (): PatchGrid => (state.model ? patchGrid(state.model) : DEMO_GRID);

interface Column {
  root: HTMLElement;
  text: HTMLElement;
  metrics: HTMLElement;
}

function column(id: string): Column {
  const root = byId(id);
  return { root, text: root.querySelector<HTMLElement>('.answer-text')!, metrics: root.querySelector<HTMLElement>('.metrics')! };
}

function pending(c: Column, msg: string): void {
  c.text.textContent = msg;
  c.text.classList.add('pending');
  c.root.dataset.state = 'pending';
  setChildren(c.metrics);
}

function streaming(c: Column, text: string): void {
  c.text.textContent = text;
  c.text.classList.remove('pending');
  c.root.dataset.state = 'streaming';
}

function done(c: Column, r: GenerateResult, expected?: string): void {
  const shown = r.text.trim();
  c.text.textContent = shown || '(empty answer: the model ended at once)';
  c.text.classList.toggle('pending', !shown);
  c.root.dataset.state = r.finishReason === 'abort' ? 'stopped' : 'done';
  const u = r.usage;
  const p = r.pruning;
  const keptLast = p.keptPerLayer.at(-1) ?? p.visualTokens;
  const keptMean = p.keptPerLayer.length ? p.keptPerLayer.reduce((a, b) => a + b, 0) / p.keptPerLayer.length : p.visualTokens;
  fillKv(c.metrics, [
    ['time to first token', fmtMs(u.timeToFirstTokenMs), u.timeToFirstTokenMs, 'ttft'],
    ['image encode', u.imageFeaturesCached ? `${fmtMs(u.imageEncodeMs)} (features cached: same image as before)` : fmtMs(u.imageEncodeMs), u.imageEncodeMs, 'encode'],
    ['prefill', fmtMs(u.prefillMs), u.prefillMs, 'prefill'],
    [
      'decode',
      u.generatedTokens > 1 ? `${u.decodeTokensPerSecond.toFixed(1)} tokens/s (${u.generatedTokens} tokens)` : `— (${count(u.generatedTokens, 'token')}: the first comes from the prefill, no decode step)`,
      u.decodeTokensPerSecond,
      'decode',
    ],
    ['visual tokens kept', `${keptLast} of ${p.visualTokens} after the last layer (mean ${keptMean.toFixed(0)} over layers)`, keptLast, 'kept'],
    ['FLOPs kept, reference', fmtPct(p.flops.reference.ratio), p.flops.reference.ratio, 'flops-ref'],
    ['FLOPs kept, architecture', fmtPct(p.flops.architecture.ratio), p.flops.architecture.ratio, 'flops-arch'],
    ['finished', r.finishReason === 'eos' ? 'end of answer' : r.finishReason === 'length' ? 'max new tokens' : r.finishReason === 'abort' ? 'stopped by you' : 'stop string'],
  ]);
  // A sample's suggested question carries its expected answer: say whether this one matches
  // (exact match after normalising, as the evaluation scores it).
  if (expected !== undefined && r.finishReason !== 'abort') {
    const ok = isCorrect(r.text, expected);
    c.metrics.append(h('dt', {}, 'expected answer'), h('dd', { 'data-metric': 'correct', 'data-value': ok ? 1 : 0, class: ok ? 'ok' : 'error' }, `${expected}: ${ok ? '✓ matches' : '✗ no match'}`));
  }
}

function failed(c: Column, msg: string): void {
  c.text.textContent = msg;
  c.text.classList.add('pending');
  c.root.dataset.state = 'error';
  setChildren(c.metrics);
}

export function initAskPanel(onPruned: (r: GenerateResult, image: CurrentImage) => void): { redraw: () => void; updatePolicyNote: () => void } {
  const canvas = byId<HTMLCanvasElement>('image-canvas');
  const zone = byId('drop-zone');
  const fileInput = byId<HTMLInputElement>('image-file');
  const showGrid = byId<HTMLInputElement>('show-grid');
  const caption = byId('grid-caption');
  const question = byId<HTMLTextAreaElement>('question');
  const policySel = byId<HTMLSelectElement>('policy');
  const note = byId('policy-note');
  const maxTokens = byId<HTMLInputElement>('max-tokens');
  const askBtn = byId<HTMLButtonElement>('ask-btn');
  const stopBtn = byId<HTMLButtonElement>('stop-btn');
  const err = byId('ask-error');
  const colNone = column('answer-none');
  const colPruned = column('answer-pruned');
  const prunedLabel = byId('answer-pruned').querySelector<HTMLElement>('.policy-label')!;

  const redraw = () => {
    const g = currentGrid();
    if (!current) {
      const ctx = canvas.getContext('2d');
      ctx?.clearRect(0, 0, canvas.width, canvas.height);
      caption.textContent = 'No image yet.';
      return;
    }
    drawImageWithGrid(canvas, current.bitmap, { grid: g, showGrid: showGrid.checked });
    const square = current.bitmap.width === current.bitmap.height;
    const crop = square ? '' : g.region === 'centre-square' ? ', centre-cropped to a square as the processor does' : ', used whole';
    const tokens = state.model?.variableImageTokens ? `the model tiles it (tokens depend on its size); one tile is ${g.rows}×${g.cols} patches` : `${g.rows}×${g.cols} = ${g.rows * g.cols} visual tokens`;
    caption.textContent = `${current.name}: ${current.bitmap.width}×${current.bitmap.height} px${crop}; ${tokens}${state.model ? '' : ' (the demo model’s grid; load a model for its own)'}.`;
  };

  const setImage = async (blob: Blob, name: string) => {
    err.textContent = '';
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(blob);
    } catch {
      err.textContent = `"${name}" is not an image this browser can decode (try PNG, JPEG or WebP).`;
      return;
    }
    current?.bitmap.close();
    current = { blob, bitmap, name };
    redraw();
  };

  const takeFiles = (files: FileList | null | undefined) => {
    const f = Array.from(files ?? []).find((x) => x.type.startsWith('image/')) ?? files?.[0];
    if (!f) return;
    void setImage(f, f.name);
  };

  fileInput.addEventListener('change', () => {
    takeFiles(fileInput.files);
    fileInput.value = ''; // picking the same file again still fires change
  });
  zone.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      fileInput.click();
    }
  });
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (!e.dataTransfer?.files.length) {
      err.textContent = 'Nothing to use in that drop: drop an image file (images dragged from other pages arrive as links, which this page does not fetch).';
      return;
    }
    takeFiles(e.dataTransfer.files);
  });
  // Paste anywhere on the page; text pastes into fields are left alone.
  document.addEventListener('paste', (e) => {
    const file = Array.from(e.clipboardData?.files ?? []).find((f) => f.type.startsWith('image/'));
    if (!file) return;
    e.preventDefault();
    void setImage(file, file.name && file.name !== 'image.png' ? file.name : 'pasted image');
  });
  showGrid.addEventListener('change', redraw);

  // Shipped samples with suggested questions.
  const samplesBox = byId('samples');
  const suggested = byId('suggested');
  const pickSample = async (s: Sample, button: HTMLButtonElement) => {
    for (const b of samplesBox.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b === button));
    try {
      // Capped and held to the samples' folder, like every fetch of the page's own data.
      await setImage(await fetchSampleImage(s), s.image.split('/').pop() ?? s.image);
    } catch (e) {
      err.textContent = `Could not fetch the sample ${s.image}: ${errorText(e)}`;
      return;
    }
    setChildren(
      suggested,
      ...s.questions.map((q) => {
        const b = h('button', { type: 'button', 'data-answer': q.answer, title: `expected answer: ${q.answer}` }, q.question);
        b.addEventListener('click', () => {
          question.value = q.question;
          question.dataset.expected = q.answer;
          question.focus();
        });
        return b;
      }),
    );
    if (!question.value.trim() && s.questions[0]) {
      question.value = s.questions[0].question;
      question.dataset.expected = s.questions[0].answer;
    }
  };
  question.addEventListener('input', () => delete question.dataset.expected);
  loadSamples()
    .then((samples) => {
      setChildren(
        samplesBox,
        ...samples.map((s, i) => {
          const b = h('button', { type: 'button', 'aria-pressed': 'false', 'data-sample': s.image }, h('img', { src: s.url, alt: '' }), `Scene ${i + 1}`);
          b.addEventListener('click', () => void pickSample(s, b));
          return b;
        }),
      );
    })
    .catch((e: unknown) => setChildren(samplesBox, h('p', { class: 'error' }, `Samples unavailable: ${errorText(e)}`)));

  const sliderKeep = () => Number(byId<HTMLInputElement>('cal-budget').value) / 100;
  const updatePolicyNote = () => {
    if (!state.model) {
      note.textContent = 'Load a model first (section 1).';
      return;
    }
    const p = buildPolicy(policySel.value as PolicyKind, state.model, state.recipe?.recipe ?? null, sliderKeep());
    note.textContent = 'error' in p ? p.error : `Pruned side: ${p.label}.`;
  };
  policySel.addEventListener('change', updatePolicyNote);
  byId('cal-budget').addEventListener('input', updatePolicyNote);
  state.on('recipe', updatePolicyNote);
  state.on('model', () => {
    updatePolicyNote();
    redraw();
  });
  updatePolicyNote();

  // Asking: unpruned first, then pruned (the engine runs one request at a time anyway).
  let active: string | null = null;
  let stopped = false;
  stopBtn.addEventListener('click', () => {
    stopped = true;
    if (active) void engine().abort(active);
  });
  // Escape stops the answer in progress from anywhere on the page.
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !stopBtn.disabled) stopBtn.click();
  });
  question.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) askBtn.click();
  });

  askBtn.addEventListener('click', () => {
    err.textContent = '';
    const model = state.model;
    if (!model) return void (err.textContent = 'Load a model first (section 1).');
    if (!current) return void (err.textContent = 'Add an image first: drop, paste or choose one, or click a sample.');
    const q = question.value.trim();
    if (!q) return void (err.textContent = 'Type a question about the image.');
    const max = Number(maxTokens.value);
    if (!Number.isInteger(max) || max < 1 || max > 256) return void (err.textContent = 'Max new tokens must be a whole number from 1 to 256.');
    const built = buildPolicy(policySel.value as PolicyKind, model, state.recipe?.recipe ?? null, sliderKeep());
    if ('error' in built) return void (err.textContent = built.error);
    const image = current;
    const expected = question.dataset.expected;
    void runJob('answering', async () => {
      stopped = false;
      stopBtn.disabled = false;
      prunedLabel.textContent = built.label;
      pending(colNone, 'Thinking…');
      pending(colPruned, 'Waiting for the unpruned answer…');
      const ask = async (c: Column, extra: Partial<WorkerGenerateRequest>): Promise<GenerateResult | null> => {
        const id = requestId('ask');
        active = id;
        try {
          const r = await engine().generate(
            { requestId: id, prompt: q, image: image.blob, maxNewTokens: max, ...extra },
            Comlink.proxy((t: TokenEvent) => streaming(c, t.text)),
          );
          done(c, r, expected);
          return r;
        } catch (e) {
          failed(c, isAbort(e) ? 'Stopped before the first token.' : `Error: ${errorText(e)}`);
          return null;
        } finally {
          active = null;
        }
      };
      try {
        await ask(colNone, {});
        if (stopped) {
          failed(colPruned, 'Not run: stopped.');
          return;
        }
        pending(colPruned, 'Thinking…');
        const r = await ask(colPruned, { pruning: built.policy, recordKeptIndices: true });
        if (r) onPruned(r, image);
      } finally {
        stopBtn.disabled = true;
      }
    });
  });

  return { redraw, updatePolicyNote };
}
