#!/usr/bin/env node
// Runs a command with the project's private lavapipe (Mesa's software Vulkan) as the only
// Vulkan driver, so Dawn (`webgpu` package) has an adapter on a machine without a GPU.
// Usage: node scripts/with-lavapipe.mjs <command> [args...]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = process.env.LAVAPIPE_DIR ?? join(root, '.lavapipe');
const icd = join(dir, 'lvp_icd.json');

export function lavapipeEnv() {
  if (process.env.VK_ICD_FILENAMES) return {}; // the caller chose a driver
  if (!existsSync(icd)) return null;
  const libdir = readFileSync(join(dir, 'libdir'), 'utf8').trim();
  return {
    VK_ICD_FILENAMES: icd,
    LD_LIBRARY_PATH: [libdir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const env = lavapipeEnv();
  if (!env) {
    console.error(
      `No Vulkan driver for Node's WebGPU: lavapipe is not installed in ${dir}.\n` +
        `Install it (no root needed, downloads from Debian's mirror):  bash scripts/install-lavapipe.sh\n` +
        `or point VK_ICD_FILENAMES at another Vulkan ICD json.`,
    );
    process.exit(1);
  }
  const [cmd, ...args] = process.argv.slice(2);
  const bin = join(root, 'node_modules', '.bin', cmd);
  const r = spawnSync(existsSync(bin) ? bin : cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  process.exit(r.status ?? 1);
}
