import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';

// Flags for Debian's Chromium on a machine without a GPU: WebGPU on SwiftShader needs
// --enable-unsafe-webgpu; the rest keep a closed network quiet.
export const chromiumArgs = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          setupFiles: ['test/setup/network-guard.ts'],
        },
      },
      {
        test: {
          name: 'gpu-node',
          // test/node-gpu: GPU tests that need Node itself (child processes, the file system).
          include: ['test/gpu/**/*.test.ts', 'test/node-gpu/**/*.test.ts'],
          setupFiles: ['test/setup/network-guard.ts', 'test/setup/node-gpu.ts'],
          pool: 'forks',
          // lavapipe uses both cores for one kernel; parallel files only contend.
          fileParallelism: false,
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'gpu-browser',
          include: ['test/gpu/**/*.test.ts', 'test/browser/**/*.test.ts'],
          // SwiftShader has no GPU watchdog: a runaway kernel hangs the page, so every test
          // and hook has a timeout.
          testTimeout: 180_000,
          hookTimeout: 60_000,
          fileParallelism: false,
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({
              launchOptions: { executablePath: chromiumPath, args: chromiumArgs },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
      {
        test: {
          // The real page: globalSetup builds it and serves it with `vite preview`; the test
          // drives Chromium with playwright-core from Node.
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/e2e/global-setup.ts'],
          // About 3.5 minutes on an idle 2-core machine; the margin is for a busy one.
          testTimeout: 480_000,
          hookTimeout: 330_000,
          fileParallelism: false,
          // After the other projects, not beside them: on 2 cores a concurrent SwiftShader
          // run would slow both past their timeouts.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
