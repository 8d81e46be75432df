#!/usr/bin/env node
// The Node GPU tests' wrapper: runs a command with the project's private lavapipe (Mesa's
// software Vulkan) as the only Vulkan driver, so test results do not depend on the machine's
// GPU, and without Dawn's limit warnings on stderr. A VK_ICD_FILENAMES set by the caller wins.
// The CLIs use scripts/with-gpu.mjs instead (the system's GPU when there is one).
// Usage: node scripts/with-lavapipe.mjs <command> [args...]
import { fileURLToPath } from 'node:url';
import { lavapipeDir, lavapipeOnlyEnv, runFiltered } from './with-gpu.mjs';

/** lavapipe's environment, {} when the caller chose a driver, null when lavapipe is missing. */
export function lavapipeEnv(env = process.env) {
  if (env.VK_ICD_FILENAMES) return {};
  return lavapipeOnlyEnv(env);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const env = lavapipeEnv();
  if (!env) {
    console.error(
      `No Vulkan driver for Node's WebGPU: lavapipe is not installed in ${lavapipeDir()}.\n` +
        `Install it (no root needed, downloads from Debian's mirror):  bash scripts/install-lavapipe.sh\n` +
        `or point VK_ICD_FILENAMES at another Vulkan ICD json.`,
    );
    process.exit(1);
  }
  const [cmd, ...args] = process.argv.slice(2);
  process.exit(await runFiltered(cmd, args, env));
}
