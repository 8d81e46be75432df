/** The FuzzEnv a child process gives its cases: one engine on the GPU and the unchanged tiny models. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, type GenerateRequest, type GenerateResult } from '../../src/engine/engine';
import type { ModelSource } from '../../src/load/source';
import { Rng } from '../../src/util/random';
import { TINY_ARCHS } from '../../test/fixtures/tiny/index';
import type { FuzzArch, FuzzEnv, GenContext } from './case';

/** The tiny checkpoints, made once per process (the makers are deterministic). */
export class BaseModels implements GenContext {
  private readonly made = new Map<FuzzArch, Map<string, Uint8Array>>();
  baseFiles(arch: FuzzArch): Map<string, Uint8Array> {
    let files = this.made.get(arch);
    if (!files) {
      files = TINY_ARCHS[arch]!.make({ seed: 7 });
      this.made.set(arch, files);
    }
    return new Map(files);
  }
}

/** A fixed, small RGB image per arch: the default question's picture. */
function defaultImage(arch: FuzzArch): { data: Uint8ClampedArray; width: number; height: number; channels: 3 } {
  const rng = new Rng(arch.length * 31 + 5);
  const width = 40;
  const height = 32;
  const data = new Uint8ClampedArray(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(0, 256);
  return { data, width, height, channels: 3 };
}

export class ChildEnv implements FuzzEnv {
  signal: AbortSignal = new AbortController().signal;
  /** Which unchanged model is loaded now ('other' after a case loaded its own files). */
  private loaded: FuzzArch | 'other' | null = null;
  private readonly answers = new Map<FuzzArch, readonly number[]>();
  private readonly dirs: string[] = [];

  constructor(
    public engine: Engine,
    private readonly bases: BaseModels,
  ) {}

  defaultRequest(arch: FuzzArch): GenerateRequest {
    return { prompt: 'What is in the picture?', image: defaultImage(arch), maxNewTokens: 2, signal: this.signal };
  }

  async loadAndAsk(files: ReadonlyMap<string, Uint8Array> | ModelSource, arch: FuzzArch, request?: GenerateRequest): Promise<GenerateResult> {
    this.loaded = 'other'; // whatever happens next, the unchanged model may not be the one loaded
    await this.engine.load(files instanceof Map ? { files, name: `fuzz:${arch}` } : (files as ModelSource), { signal: this.signal });
    return this.engine.generate({ ...(request ?? this.defaultRequest(arch)), signal: this.signal });
  }

  async ask(arch: FuzzArch, request: GenerateRequest): Promise<GenerateResult> {
    await this.ensure(arch);
    return this.engine.generate({ signal: this.signal, ...request });
  }

  async baseAnswer(arch: FuzzArch): Promise<readonly number[]> {
    let tokens = this.answers.get(arch);
    if (!tokens) {
      tokens = (await this.ask(arch, this.defaultRequest(arch))).tokens;
      this.answers.set(arch, tokens);
    }
    return tokens;
  }

  async tmpDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'fitprune-fuzz-'));
    this.dirs.push(dir);
    return dir;
  }

  /** Called after every case: removes its folders; a case that changed the model is not trusted further. */
  async afterCase(): Promise<void> {
    for (const dir of this.dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  }

  /** A fresh engine (after a lost device): the unchanged models are loaded again on demand. */
  replaceEngine(engine: Engine): void {
    this.engine = engine;
    this.loaded = null;
  }

  private async ensure(arch: FuzzArch): Promise<void> {
    if (this.loaded === arch) return;
    this.loaded = null;
    await this.engine.load({ files: this.bases.baseFiles(arch), name: `base:${arch}` });
    this.loaded = arch;
  }
}
