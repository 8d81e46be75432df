// Types of scripts/with-gpu.mjs for the TypeScript tests (test/unit/with-gpu.test.ts).
export type AdapterChoice = 'auto' | 'system' | 'lavapipe';
export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
type Env = Record<string, string | undefined>;
export type AdapterDecision =
  | { adapter: 'system' | 'lavapipe'; env: Record<string, string>; line: string; error?: undefined }
  | { error: string; adapter?: undefined; env?: undefined; line?: undefined };

export const ADAPTER_CHOICES: readonly AdapterChoice[];
export function lavapipeDir(env?: Env): string;
export function lavapipeOnlyEnv(env?: Env, dir?: string): Record<string, string> | null;
export function takeAdapterFlag(argv: readonly string[]): { choice: AdapterChoice | undefined; args: string[] };
export function isSoftwareAdapter(info: AdapterInfoLike): boolean;
export function adapterName(info: AdapterInfoLike): string;
export function probeSystemAdapter(env?: Env): AdapterInfoLike | null;
export function chooseAdapter(options?: {
  choice?: AdapterChoice;
  env?: Env;
  probe?: (env: Env) => AdapterInfoLike | null;
}): AdapterDecision;
export function dawnWarningFilter(write: (s: string) => void): { push(chunk: string): void; end(): void };
export function runFiltered(cmd: string, args: readonly string[], extraEnv?: Record<string, string>): Promise<number>;
