#!/usr/bin/env node
// Runs a command (the CLIs: generate, calibrate, eval, bench:prune) with a Vulkan driver for
// Node's WebGPU (Dawn, `webgpu` package), and prints on stderr which one it picked.
// Usage: node scripts/with-gpu.mjs [--adapter auto|system|lavapipe] <command> [args...]
// `--adapter` may also stand among the command's arguments (`npm run generate -- --adapter
// system` puts it there); the wrapper takes it out. FITPRUNE_ADAPTER=auto|system|lavapipe does
// the same; the flag wins.
//   system    the system's Vulkan loader and drivers, untouched (a real GPU)
//   lavapipe  the project's private Mesa lavapipe in .lavapipe/ (software; scripts/install-lavapipe.sh)
//   auto      (default) the caller's VK_ICD_FILENAMES / VK_DRIVER_FILES if set; else `system` when a
//             probe (requestAdapter in a child process on the system drivers) finds a hardware
//             adapter, i.e. one that is not a fallback/CPU adapter; else lavapipe; else a software
//             adapter the system has (e.g. Debian's own lavapipe).
// Dawn's "max…PerPipelineLayout artificially reduced" warnings are dropped from the command's
// stderr (Dawn prints them from native code for every Vulkan adapter and has no switch for it).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export const ADAPTER_CHOICES = ['auto', 'system', 'lavapipe'];

/** The private lavapipe's folder: LAVAPIPE_DIR or .lavapipe/ at the repository root. */
export function lavapipeDir(env = process.env) {
  return env.LAVAPIPE_DIR ?? join(root, '.lavapipe');
}

/** The environment that makes lavapipe the only Vulkan driver, or null when it is not installed. */
export function lavapipeOnlyEnv(env = process.env, dir = lavapipeDir(env)) {
  const icd = join(dir, 'lvp_icd.json');
  if (!existsSync(icd)) return null;
  const libdir = readFileSync(join(dir, 'libdir'), 'utf8').trim();
  return {
    VK_ICD_FILENAMES: icd,
    VK_DRIVER_FILES: icd, // the newer name; the loader prefers it when both are set
    LD_LIBRARY_PATH: [libdir, env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
  };
}

/** Splits `--adapter X` / `--adapter=X` out of argv. Throws on a missing or unknown value. */
export function takeAdapterFlag(argv) {
  const rest = [];
  let choice;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (choice === undefined && (a === '--adapter' || a.startsWith('--adapter='))) {
      choice = a === '--adapter' ? argv[++i] : a.slice('--adapter='.length);
      if (!ADAPTER_CHOICES.includes(choice)) {
        throw new Error(`--adapter takes ${ADAPTER_CHOICES.join('|')}, got ${choice === undefined ? 'nothing' : JSON.stringify(choice)}`);
      }
    } else {
      rest.push(a);
    }
  }
  return { choice, args: rest };
}

/** A software rasteriser rather than a GPU: Dawn marks CPU adapters as fallback adapters. */
export function isSoftwareAdapter(info) {
  return (
    Boolean(info.isFallbackAdapter) ||
    info.architecture === 'software' ||
    /llvmpipe|lavapipe|softpipe|swiftshader/i.test(`${info.device} ${info.description}`)
  );
}

export function adapterName(info) {
  return [info.vendor, info.description || info.device].filter(Boolean).join(': ') || 'unknown adapter';
}

/**
 * What the system's Vulkan drivers give Dawn, asked in a child process (a Dawn instance keeps
 * its process alive, and a broken driver must not take the wrapper down): the adapter's info,
 * or null when there is none (no libvulkan, no driver, or the probe failed or took over 20 s).
 */
export function probeSystemAdapter(env = process.env) {
  let webgpu;
  try {
    webgpu = import.meta.resolve('webgpu');
  } catch {
    return null;
  }
  const code = `
    const { create, globals } = await import(${JSON.stringify(webgpu)});
    Object.assign(globalThis, globals);
    const a = await create([]).requestAdapter();
    const i = a && a.info;
    process.stdout.write('\\n' + JSON.stringify(i ? { vendor: i.vendor, architecture: i.architecture,
      device: i.device, description: i.description, isFallbackAdapter: Boolean(i.isFallbackAdapter) } : null) + '\\n');
    process.exit(0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    env,
    encoding: 'utf8',
    timeout: 20_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.status !== 0) return null;
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    return null;
  }
}

const hint = {
  system: 'FITPRUNE_ADAPTER=lavapipe or --adapter lavapipe for the software driver',
  lavapipe: "FITPRUNE_ADAPTER=system or --adapter system for the system's driver",
};

/**
 * Decides the driver. Returns { adapter: 'system' | 'lavapipe', env, line } where env holds the
 * variables to set on top of the caller's and line is the one-line report for stderr, or
 * { error } when there is no driver to use. `probe` is probeSystemAdapter (injectable for tests);
 * it only runs for `auto` without a caller-chosen driver.
 */
export function chooseAdapter({ choice, env = process.env, probe = probeSystemAdapter } = {}) {
  const chosen = choice ?? (env.FITPRUNE_ADAPTER || 'auto');
  if (!ADAPTER_CHOICES.includes(chosen)) {
    return { error: `FITPRUNE_ADAPTER takes ${ADAPTER_CHOICES.join('|')}, got ${JSON.stringify(chosen)}` };
  }
  const forcedBy = choice ? `--adapter ${chosen}` : `FITPRUNE_ADAPTER=${chosen}`;
  const dir = lavapipeDir(env);
  const lavapipe = () => lavapipeOnlyEnv(env, dir);
  const missingLavapipe =
    `lavapipe is not installed in ${dir}.\n` +
    'Install it (no root needed, downloads from Debian\'s mirror):  bash scripts/install-lavapipe.sh';

  if (chosen === 'system') {
    return { adapter: 'system', env: {}, line: `adapter: the system's Vulkan driver (${forcedBy}) — ${hint.system}` };
  }
  if (chosen === 'lavapipe') {
    const lvp = lavapipe();
    if (!lvp) return { error: `${forcedBy}: ${missingLavapipe}` };
    return { adapter: 'lavapipe', env: lvp, line: `adapter: lavapipe (Mesa software Vulkan in ${dir}; ${forcedBy}) — ${hint.lavapipe}` };
  }
  const callers = env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES;
  if (callers) {
    return { adapter: 'system', env: {}, line: `adapter: the Vulkan driver in ${env.VK_DRIVER_FILES ? 'VK_DRIVER_FILES' : 'VK_ICD_FILENAMES'} (${callers})` };
  }
  const info = probe(env);
  if (info && !isSoftwareAdapter(info)) {
    return { adapter: 'system', env: {}, line: `adapter: system (${adapterName(info)}) — ${hint.system}` };
  }
  const lvp = lavapipe();
  if (lvp) {
    const why = info ? `the system has only ${adapterName(info)}` : 'no system Vulkan adapter found';
    return { adapter: 'lavapipe', env: lvp, line: `adapter: lavapipe (Mesa software Vulkan; ${why}) — ${hint.lavapipe}` };
  }
  if (info) {
    return { adapter: 'system', env: {}, line: `adapter: system (${adapterName(info)}, software; no GPU found)` };
  }
  return {
    error:
      `No Vulkan driver for Node's WebGPU: no system Vulkan adapter was found and ${missingLavapipe}\n` +
      'or point VK_ICD_FILENAMES at another Vulkan ICD json.',
  };
}

const DAWN_LIMIT_WARNING =
  /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;
const WARNING_START = 'Warning: maxDynamic';

/**
 * A line filter for a stderr stream that drops Dawn's limit warnings and passes everything else
 * through at once: only a partial line that could still become such a warning is held back
 * (progress lines ending in `\r` are not delayed).
 */
export function dawnWarningFilter(write) {
  let pending = '';
  let atLineStart = true;
  return {
    push(chunk) {
      const text = pending + chunk;
      pending = '';
      let out = '';
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        const line = text.slice(start, nl);
        if (!(atLineStart && DAWN_LIMIT_WARNING.test(line))) out += `${line}\n`;
        atLineStart = true;
        start = nl + 1;
      }
      const rest = text.slice(start);
      if (rest && atLineStart && (WARNING_START.startsWith(rest) || rest.startsWith(WARNING_START))) {
        pending = rest;
      } else if (rest) {
        out += rest;
        atLineStart = false;
      }
      if (out) write(out);
    },
    end() {
      if (pending) write(pending);
      pending = '';
    },
  };
}

/** Runs cmd (a node_modules/.bin name or a program) with extra env; stderr goes through the filter. */
export function runFiltered(cmd, args, extraEnv = {}) {
  const bin = join(root, 'node_modules', '.bin', cmd);
  const child = spawn(existsSync(bin) ? bin : cmd, args, {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, ...extraEnv },
  });
  const filter = dawnWarningFilter((s) => process.stderr.write(s));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s) => filter.push(s));
  const forward = (sig) => () => child.kill(sig);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, forward(sig));
  return new Promise((resolve) => {
    child.on('error', (e) => {
      process.stderr.write(`${cmd}: ${e.message}\n`);
      resolve(127);
    });
    child.on('close', (code, signal) => {
      filter.end();
      resolve(code ?? 128 + (constants.signals[signal] ?? 0));
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let parsed;
  try {
    parsed = takeAdapterFlag(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  const [cmd, ...args] = parsed.args;
  if (!cmd) {
    console.error('usage: node scripts/with-gpu.mjs [--adapter auto|system|lavapipe] <command> [args...]');
    process.exit(2);
  }
  const choice = chooseAdapter({ choice: parsed.choice });
  if (choice.error) {
    console.error(choice.error);
    process.exit(1);
  }
  console.error(choice.line);
  process.exit(await runFiltered(cmd, args, choice.env));
}
