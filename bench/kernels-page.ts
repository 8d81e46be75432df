/**
 * The kernel benchmark page: our WGSL kernels and onnxruntime-web's WebGPU execution provider
 * run the same op on the same GPUDevice (ort is handed our device), interleaved, in one tab.
 * Results go to window.__benchResult for bench/run-kernels.ts.
 */
import * as ort from 'onnxruntime-web/webgpu';
import type { GpuContext } from '../src/gpu/context';
import { acquireGpu, describeAdapter } from '../src/gpu/device';
import type { Tensor } from '../src/gpu/tensor';
import { attention } from '../src/kernels/attention';
import { matmul } from '../src/kernels/matmul';
import { buildOnnxModel } from './onnx-builder';
import { measureRoofline, type Roofline } from './roofline/roofline';

export interface BenchRow {
  op: string;
  shape: string;
  flops: number;
  /** Least bytes the op must move (inputs read once, output written once). */
  bytes: number;
  oursMs: number;
  ortMs: number;
  oursGflops: number;
  ortGflops: number;
  ratio: number;
  maxRelDiff: number;
  /** Our GFLOP/s over the adapter's measured peak, and our GB/s over its measured bandwidth. */
  oursOfPeak: number;
  oursOfBandwidth: number;
}

export interface BenchResult {
  adapter: string;
  userAgent: string;
  ortVersion: string;
  sharedDevice: boolean;
  roofline: Roofline | null;
  rows: BenchRow[];
  error?: string;
}

const log = (s: string) => {
  document.querySelector('#log')!.textContent += `\n${s}`;
};

function randomFloats(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < b.length; i++) err = Math.max(err, Math.abs(a[i]! - b[i]!));
  return err / (scale || 1);
}

interface Case {
  op: string;
  shape: string;
  flops: number;
  bytes: number;
  model: Uint8Array;
  feeds: { name: string; data: Float32Array; dims: number[] }[];
  /** Uploads our inputs once and returns the op to time. */
  prepare: (ctx: GpuContext) => () => Tensor;
  /** Our output in the ort output's layout. */
  oursToOrtLayout?: (y: Float32Array) => Float32Array;
}

function matmulCase(M: number, N: number, K: number, path: 'tiled' | 'matvec'): { c: Case; weight: Float32Array } {
  const w = randomFloats(N * K, M * 7 + N); // [N, K]
  const wt = new Float32Array(K * N); // ort's MatMul wants [K, N]
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) wt[k * N + n] = w[n * K + k]!;
  const x = randomFloats(M * K, K);
  return {
    weight: w,
    c: {
      op: path === 'matvec' ? 'matvec' : 'matmul',
      shape: `X[${M}×${K}]·W[${N}×${K}]ᵀ`,
      flops: 2 * M * N * K,
      bytes: 4 * (M * K + N * K + M * N),
      model: buildOnnxModel({
        nodes: [{ op: 'MatMul', inputs: ['X', 'W'], outputs: ['Y'] }],
        inputs: [{ name: 'X', dims: [M, K] }],
        outputs: [{ name: 'Y', dims: [M, N] }],
        initializers: [{ name: 'W', dims: [K, N], data: wt }],
      }),
      feeds: [{ name: 'X', data: x, dims: [M, K] }],
      prepare: (ctx) => {
        const xt = ctx.upload(x, [M, K], 'f32');
        const wt32 = ctx.upload(w, [N, K], 'f32');
        return () => matmul(ctx, xt, wt32, { path });
      },
    },
  };
}

function attentionCase(T: number, H: number, D: number): Case {
  // ort graph in [H, T, D]; ours in [T, H, D]: the same numbers, transposed.
  const q = randomFloats(H * T * D, 1);
  const k = randomFloats(H * T * D, 2);
  const v = randomFloats(H * T * D, 3);
  const toTHD = (x: Float32Array) => {
    const out = new Float32Array(x.length);
    for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) out.set(x.subarray((h * T + t) * D, (h * T + t + 1) * D), (t * H + h) * D);
    return out;
  };
  const toHTD = (x: Float32Array) => {
    const out = new Float32Array(x.length);
    for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) out.set(x.subarray((t * H + h) * D, (t * H + h + 1) * D), (h * T + t) * D);
    return out;
  };
  const ourInputs = [toTHD(q), toTHD(k), toTHD(v)];
  return {
    op: 'attention',
    shape: `T=${T} H=${H} D=${D} (bidirectional)`,
    flops: 4 * T * T * D * H,
    bytes: 4 * 4 * T * H * D,
    model: buildOnnxModel({
      nodes: [
        { op: 'Transpose', inputs: ['K'], outputs: ['Kt'], attributes: { perm: [0, 2, 1] } },
        { op: 'MatMul', inputs: ['Q', 'Kt'], outputs: ['S'] },
        { op: 'Mul', inputs: ['S', 'scale'], outputs: ['Ss'] },
        { op: 'Softmax', inputs: ['Ss'], outputs: ['P'], attributes: { axis: -1 } },
        { op: 'MatMul', inputs: ['P', 'V'], outputs: ['Y'] },
      ],
      inputs: ['Q', 'K', 'V'].map((name) => ({ name, dims: [H, T, D] })),
      outputs: [{ name: 'Y', dims: [H, T, D] }],
      initializers: [{ name: 'scale', dims: [], data: Float32Array.of(1 / Math.sqrt(D)) }],
    }),
    feeds: [
      { name: 'Q', data: q, dims: [H, T, D] },
      { name: 'K', data: k, dims: [H, T, D] },
      { name: 'V', data: v, dims: [H, T, D] },
    ],
    prepare: (ctx) => {
      const [qt, kt, vt] = ourInputs.map((x) => ctx.upload(x, [T, H, D], 'f32'));
      return () => attention(ctx, qt!, kt!, vt!, { kvLen: T, causal: false });
    },
    oursToOrtLayout: toHTD,
  };
}

async function run(): Promise<BenchResult> {
  const ctx = await acquireGpu();
  ort.env.wasm.wasmPaths = new URL('/node_modules/onnxruntime-web/dist/', location.href).href;
  ort.env.wasm.numThreads = 1;
  let sharedDevice = true;
  try {
    ort.env.webgpu.device = ctx.device;
  } catch {
    sharedDevice = false;
  }
  const cases: Case[] = [
    matmulCase(128, 512, 512, 'tiled').c,
    matmulCase(196, 1024, 256, 'tiled').c,
    matmulCase(1, 1024, 1024, 'matvec').c,
    attentionCase(128, 8, 64),
    attentionCase(256, 8, 64),
  ];
  log('roofline (peak FMA, read bandwidth, dispatch cost)');
  const roofline = await measureRoofline(ctx);
  log(`  ${roofline.peakGflops.toFixed(1)} GFLOP/s, ${roofline.bandwidthGBs.toFixed(2)} GB/s, ${(roofline.dispatchMs * 1000).toFixed(0)} µs a dispatch`);
  const rows: BenchRow[] = [];
  const runs = 5;
  for (const c of cases) {
    log(`${c.op} ${c.shape}`);
    const session = await ort.InferenceSession.create(c.model, {
      executionProviders: ['webgpu'],
      preferredOutputLocation: 'gpu-buffer',
    });
    const ortDevice = (await ort.env.webgpu.device) as GPUDevice;
    sharedDevice &&= ortDevice === ctx.device;
    // GPU-resident inputs so both sides time the op, not the upload.
    const feeds: Record<string, ort.Tensor> = {};
    for (const f of c.feeds) {
      const buffer = ortDevice.createBuffer({ size: f.data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
      ortDevice.queue.writeBuffer(buffer, 0, f.data as Float32Array<ArrayBuffer>);
      feeds[f.name] = ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims: f.dims });
    }
    const op = c.prepare(ctx);
    let ourOut: Tensor | null = null;
    const oursOnce = () => {
      ourOut?.dispose();
      ourOut = op();
    };
    const timeOurs = async () => {
      const t0 = performance.now();
      oursOnce();
      await ctx.sync();
      return performance.now() - t0;
    };
    let ortOut: ort.Tensor | null = null;
    const timeOrt = async () => {
      const t0 = performance.now();
      const result = await session.run(feeds);
      await ortDevice.queue.onSubmittedWorkDone();
      const dt = performance.now() - t0;
      ortOut?.dispose();
      ortOut = result['Y']!;
      return dt;
    };
    // Warm up: pipeline compilation on both sides (ort compiles on the first run of each session).
    await timeOurs();
    await timeOrt();
    await timeOrt();
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(await timeOurs());
      theirs.push(await timeOrt());
    }
    const ourData = (await ctx.read(ourOut!)) as Float32Array;
    const ortData = (await ortOut!.getData()) as Float32Array;
    const diff = maxRelDiff(c.oursToOrtLayout ? c.oursToOrtLayout(ourData) : ourData, ortData);
    const oursMs = median(ours);
    const ortMs = median(theirs);
    rows.push({
      op: c.op,
      shape: c.shape,
      flops: c.flops,
      bytes: c.bytes,
      oursMs,
      ortMs,
      oursGflops: c.flops / oursMs / 1e6,
      ortGflops: c.flops / ortMs / 1e6,
      ratio: ortMs / oursMs,
      maxRelDiff: diff,
      oursOfPeak: c.flops / oursMs / 1e6 / roofline.peakGflops,
      oursOfBandwidth: c.bytes / oursMs / 1e6 / roofline.bandwidthGBs,
    });
    log(`  ours ${oursMs.toFixed(2)} ms, ort ${ortMs.toFixed(2)} ms, diff ${diff.toExponential(2)}`);
    await session.release();
  }
  return { adapter: describeAdapter(ctx.adapter), userAgent: navigator.userAgent, ortVersion: ort.env.versions.web ?? '', sharedDevice, roofline, rows };
}

const w = window as unknown as { __benchResult?: BenchResult };
run().then(
  (r) => (w.__benchResult = r),
  (e: unknown) => (w.__benchResult = { adapter: '', userAgent: navigator.userAgent, ortVersion: '', sharedDevice: false, roofline: null, rows: [], error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) }),
);
