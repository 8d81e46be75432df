/**
 * The model and data sets shipped in public/ (trained by tools/train-demo): the default of
 * the page, `npm run generate`, `npm run calibrate` and `npm run eval`. Everything is served
 * by the page's own origin, so the default works offline.
 */
export const EMBEDDED_MODEL = {
  name: 'fitprune-demo',
  /** Where the page fetches it (Vite serves public/ at the site root). */
  url: '/models/fitprune-demo/',
  /** The same files relative to the repository root (CLIs, tests). */
  dir: 'public/models/fitprune-demo',
  data: {
    url: '/data/shapes/',
    dir: 'public/data/shapes',
    /** 64 calibration items. */
    calib: 'calib.jsonl',
    /** 400 evaluation items, 80 per question type. */
    eval: 'eval.jsonl',
    /** A few scenes with the questions they support, for the page. */
    samples: 'samples.json',
  },
} as const;
