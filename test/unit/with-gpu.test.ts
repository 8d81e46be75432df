// The CLIs' GPU wrapper (scripts/with-gpu.mjs): which Vulkan driver it picks, and that forcing the
// system adapter never needs or points at lavapipe.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseAdapter, dawnWarningFilter, takeAdapterFlag } from '../../scripts/with-gpu.mjs';

const wrapper = fileURLToPath(new URL('../../scripts/with-gpu.mjs', import.meta.url));
const noLavapipe = join(tmpdir(), 'fitprune-no-lavapipe-here');

/** A fake .lavapipe/ folder (the wrapper only reads lvp_icd.json's path and libdir). */
const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});
function fakeLavapipe(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fitprune-lvp-'));
  made.push(dir);
  mkdirSync(join(dir, 'lib'));
  writeFileSync(join(dir, 'lvp_icd.json'), '{}');
  writeFileSync(join(dir, 'libdir'), `${join(dir, 'lib')}\n`);
  return dir;
}

/** The caller's environment without any Vulkan or adapter choice in it. */
function cleanEnv(extra: Record<string, string>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, ...extra };
  for (const k of ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'FITPRUNE_ADAPTER']) if (!(k in extra)) delete env[k];
  return env;
}

const gpu = { vendor: 'nvidia', architecture: 'ampere', device: '', description: 'NVIDIA GeForce RTX 3090', isFallbackAdapter: false };
const llvmpipe = {
  vendor: 'mesa',
  architecture: 'software',
  device: 'llvmpipe-llvm-15-0-6-256-bits-',
  description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)',
  isFallbackAdapter: true,
};
const never = () => {
  throw new Error('the probe must not run');
};

describe('chooseAdapter', () => {
  it('FITPRUNE_ADAPTER=system without .lavapipe/: the system driver, nothing pointing at lavapipe', () => {
    const d = chooseAdapter({ env: cleanEnv({ FITPRUNE_ADAPTER: 'system', LAVAPIPE_DIR: noLavapipe }), probe: never });
    expect(d.error).toBeUndefined();
    expect(d.adapter).toBe('system');
    expect(d.env).toEqual({});
    expect(d.line).toMatch(/^adapter: the system's Vulkan driver \(FITPRUNE_ADAPTER=system\)/);
  });

  it('--adapter system wins over FITPRUNE_ADAPTER=lavapipe, even with lavapipe installed', () => {
    const d = chooseAdapter({ choice: 'system', env: cleanEnv({ FITPRUNE_ADAPTER: 'lavapipe', LAVAPIPE_DIR: fakeLavapipe() }), probe: never });
    expect(d.adapter).toBe('system');
    expect(d.env).toEqual({});
  });

  it('auto takes a hardware GPU when the probe finds one', () => {
    const d = chooseAdapter({ env: cleanEnv({ LAVAPIPE_DIR: fakeLavapipe() }), probe: () => gpu });
    expect(d.adapter).toBe('system');
    expect(d.env).toEqual({});
    expect(d.line).toBe('adapter: system (nvidia: NVIDIA GeForce RTX 3090) — FITPRUNE_ADAPTER=lavapipe or --adapter lavapipe for the software driver');
  });

  it('auto falls back to lavapipe when the system has no adapter or only a software one', () => {
    const dir = fakeLavapipe();
    for (const probe of [() => null, () => llvmpipe]) {
      const d = chooseAdapter({ env: cleanEnv({ LAVAPIPE_DIR: dir, LD_LIBRARY_PATH: '/x' }), probe });
      expect(d.adapter).toBe('lavapipe');
      expect(d.env).toEqual({
        VK_ICD_FILENAMES: join(dir, 'lvp_icd.json'),
        VK_DRIVER_FILES: join(dir, 'lvp_icd.json'),
        LD_LIBRARY_PATH: `${join(dir, 'lib')}:/x`,
      });
      expect(d.line).toMatch(/^adapter: lavapipe \(Mesa software Vulkan; .*\) — FITPRUNE_ADAPTER=system or --adapter system/);
    }
  });

  it("auto uses the system's software adapter when lavapipe is missing, and fails with the install hint when there is none", () => {
    const env = cleanEnv({ LAVAPIPE_DIR: noLavapipe });
    expect(chooseAdapter({ env, probe: () => llvmpipe }).adapter).toBe('system');
    expect(chooseAdapter({ env, probe: () => null }).error).toMatch(/scripts\/install-lavapipe\.sh/);
  });

  it("auto keeps a driver the caller chose with VK_ICD_FILENAMES, without probing", () => {
    const d = chooseAdapter({ env: cleanEnv({ VK_ICD_FILENAMES: '/etc/vulkan/icd.d/x.json', LAVAPIPE_DIR: fakeLavapipe() }), probe: never });
    expect(d.adapter).toBe('system');
    expect(d.env).toEqual({});
  });

  it('forcing lavapipe overrides the caller\'s driver; missing lavapipe or an unknown choice is an error', () => {
    const dir = fakeLavapipe();
    const d = chooseAdapter({ choice: 'lavapipe', env: cleanEnv({ VK_DRIVER_FILES: '/other.json', LAVAPIPE_DIR: dir }), probe: never });
    expect(d.env?.VK_DRIVER_FILES).toBe(join(dir, 'lvp_icd.json'));
    expect(chooseAdapter({ choice: 'lavapipe', env: cleanEnv({ LAVAPIPE_DIR: noLavapipe }), probe: never }).error).toMatch(/not installed/);
    expect(chooseAdapter({ env: cleanEnv({ FITPRUNE_ADAPTER: 'gpu' }), probe: never }).error).toMatch(/auto\|system\|lavapipe/);
  });
});

describe('takeAdapterFlag', () => {
  it('takes --adapter out of the command line wherever it stands', () => {
    expect(takeAdapterFlag(['node', 'x.ts', '--adapter', 'system', '--image', 'a.png'])).toEqual({
      choice: 'system',
      args: ['node', 'x.ts', '--image', 'a.png'],
    });
    expect(takeAdapterFlag(['--adapter=lavapipe', 'node'])).toEqual({ choice: 'lavapipe', args: ['node'] });
    expect(takeAdapterFlag(['node', '--seed', '1'])).toEqual({ choice: undefined, args: ['node', '--seed', '1'] });
    expect(() => takeAdapterFlag(['node', '--adapter'])).toThrow(/got nothing/);
    expect(() => takeAdapterFlag(['--adapter', 'cuda'])).toThrow(/auto\|system\|lavapipe/);
  });
});

describe('dawnWarningFilter', () => {
  const warning = (kind: string) =>
    `Warning: maxDynamic${kind}BuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n`;

  it("drops Dawn's limit warnings, split across chunks or not, and passes the rest through at once", () => {
    const out: string[] = [];
    const f = dawnWarningFilter((s) => out.push(s));
    f.push(`${warning('Uniform')}${warning('Storage').slice(0, 30)}`);
    expect(out).toEqual([]);
    f.push(`${warning('Storage').slice(30)}error: boom\n`);
    f.push('\rsample 1/4   ');
    expect(out.join('')).toBe('error: boom\n\rsample 1/4   ');
    f.push(`\n  ${warning('Uniform')}x Warning: maxDynamic`);
    f.end();
    expect(out.join('')).toBe(`error: boom\n\rsample 1/4   \n  ${warning('Uniform')}x Warning: maxDynamic`);
  });
});

describe('scripts/with-gpu.mjs', () => {
  it('--adapter system runs the command on a machine without .lavapipe/, VK_ICD_FILENAMES untouched', () => {
    const show = 'console.log(JSON.stringify([process.env.VK_ICD_FILENAMES ?? null, process.env.VK_DRIVER_FILES ?? null, process.argv.slice(1)]))';
    const r = spawnSync(process.execPath, [wrapper, process.execPath, '-e', show, '--', '--adapter', 'system', '--seed', '3'], {
      env: cleanEnv({ LAVAPIPE_DIR: noLavapipe }),
      encoding: 'utf8',
    });
    expect(r.stderr).toMatch(/^adapter: the system's Vulkan driver \(--adapter system\)/);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([null, null, ['--seed', '3']]);
  });
});
