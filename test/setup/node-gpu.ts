// Node GPU tests run on Dawn (the `webgpu` package) over a Vulkan driver: lavapipe here
// (scripts/with-lavapipe.mjs sets VK_ICD_FILENAMES and drops Dawn's limit warnings from
// stderr). The tests reach it through globalThis.__FITPRUNE_TEST_GPU__ (see test/helpers/gpu.ts).
import { nodeGpu } from '../../src/gpu/node';

(globalThis as { __FITPRUNE_TEST_GPU__?: GPU }).__FITPRUNE_TEST_GPU__ = nodeGpu();
