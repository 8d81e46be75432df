/**
 * A tiny WGSL preprocessor for kernel variants.
 *
 * Directives (each alone on its line, leading whitespace allowed):
 *   #ifdef NAME / #ifndef NAME / #else / #endif   (nestable)
 * A define whose value is `true` only switches #ifdef blocks. A define with a number or
 * string value also switches them, and every whole-word occurrence of NAME in the code is
 * replaced by the value (e.g. `WG_SIZE` → `64`). `false` and `undefined` mean "not defined".
 * Defines are part of the pipeline cache key (see PipelineCache).
 */
export type DefineValue = boolean | number | string | undefined;
export type Defines = Readonly<Record<string, DefineValue>>;

const directive = /^\s*#(ifdef|ifndef|else|endif)\b\s*([A-Za-z_][A-Za-z0-9_]*)?\s*$/;

export function preprocessWgsl(source: string, defines: Defines = {}): string {
  const isDefined = (name: string): boolean => {
    const v = defines[name];
    return v !== undefined && v !== false;
  };
  const substitutions = Object.entries(defines).filter(
    (e): e is [string, number | string] => typeof e[1] === 'number' || typeof e[1] === 'string',
  );
  // Each stack entry: is this block active, and was its parent active.
  const stack: { active: boolean; parentActive: boolean; sawElse: boolean }[] = [];
  const out: string[] = [];
  const lines = source.split('\n');
  lines.forEach((line, i) => {
    const m = directive.exec(line);
    const active = stack.length === 0 || stack[stack.length - 1]!.active;
    if (!m) {
      if (/^\s*#(if|elif|define|undef|include)\b/.test(line)) {
        throw new Error(`preprocessWgsl: unsupported directive on line ${i + 1}: ${line.trim()}`);
      }
      if (active) out.push(line);
      return;
    }
    const [, kind, name] = m;
    if (kind === 'ifdef' || kind === 'ifndef') {
      if (!name) throw new Error(`preprocessWgsl: #${kind} without a name on line ${i + 1}`);
      const cond = kind === 'ifdef' ? isDefined(name) : !isDefined(name);
      stack.push({ active: active && cond, parentActive: active, sawElse: false });
    } else if (kind === 'else') {
      const top = stack[stack.length - 1];
      if (!top || top.sawElse) throw new Error(`preprocessWgsl: stray #else on line ${i + 1}`);
      top.sawElse = true;
      top.active = top.parentActive && !top.active;
    } else {
      if (!stack.pop()) throw new Error(`preprocessWgsl: stray #endif on line ${i + 1}`);
    }
  });
  if (stack.length > 0) throw new Error('preprocessWgsl: missing #endif');
  let code = out.join('\n');
  for (const [name, value] of substitutions) {
    code = code.replace(new RegExp(`\\b${name}\\b`, 'g'), String(value));
  }
  return code;
}

/** A stable string for a set of defines, used in cache keys. */
export function definesKey(defines: Defines): string {
  return Object.keys(defines)
    .filter((k) => defines[k] !== undefined && defines[k] !== false)
    .sort()
    .map((k) => `${k}=${String(defines[k])}`)
    .join(',');
}
