/**
 * Fuzz cases for the chat-template family (issue 25 item 4): templates that do not compile
 * (refused at load, naming the file), that run away in time (range(1e8), nested loops,
 * recursion) or in memory (doubling strings, huge indents), that raise, that drop the image or
 * the question; and harmless variations that must answer exactly as the original. The template
 * is put where the loader looks: chat_template.jinja, chat_template.json or tokenizer_config.json.
 */
import type { Rng } from '../../../src/util/random';
import { FUZZ_ARCHS, editJson, loadCase, pick, readJsonFile, textBytes, type CaseGenerator, type Expectation, type FuzzArch, type FuzzCase, type GenContext } from '../case';
import { corruptBytes, loadStageCase, withBytes, without } from './tokenizer';

type Files = Map<string, Uint8Array>;
type Json = Record<string, unknown>;
type Where = 'chat_template.jinja' | 'chat_template.json' | 'tokenizer_config.json';

/** The files with the chat template replaced by `template`, in `where` (the other places cleared). */
function placeTemplate(base: Files, where: Where, template: string): Files {
  if (where === 'chat_template.jinja') {
    const files = new Map(base);
    files.set('chat_template.jinja', textBytes(template));
    return files;
  }
  if (where === 'chat_template.json') return editJson(base, 'chat_template.json', (j) => void (j['chat_template'] = template));
  return editJson(without(base, 'chat_template.json'), 'tokenizer_config.json', (j) => void (j['chat_template'] = template));
}

/** Sources of a runaway in time: each must hit the step / time / range limit, not block the worker. */
function timeBombs(rng: Rng): string[] {
  const n = pick(rng, [1e8, 1e7, 123_456_789, 2 ** 31]);
  return [
    `{% for i in range(${n}) %}x{% endfor %}`,
    `{% set xs = range(${n}) %}`,
    '{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}{{ a }}{% endfor %}{% endfor %}{% endfor %}',
    '{% for a in range(5000) %}{% for b in range(5000) %}{% endfor %}{% endfor %}',
    '{% for a in range(9999) %}{% for b in range(9999) %}{% if a == b %}{% endif %}{% endfor %}{% endfor %}',
    '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}',
    '{% macro f(n) %}{% for i in range(10) %}{{ f(n) }}{% endfor %}{% endmacro %}{{ f(0) }}',
    `{% for i in range(0, ${n}, 1) %}{% endfor %}`,
  ];
}

/** Sources of a runaway in memory: the output (or an intermediate string) must stay bounded. */
function memoryBombs(rng: Rng): string[] {
  const k = pick(rng, [30, 40, 60]);
  const w = pick(rng, [100_000_000, 500_000_000, 1_000_000_000]);
  return [
    `{% set ns = namespace(s='x') %}{% for i in range(${k}) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}`,
    `{% set ns = namespace(s='xy') %}{% for i in range(${k}) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}`,
    `{% set ns = namespace(s='x') %}{% for i in range(${k}) %}{% set ns.s = ns.s + ns.s %}{% endfor %}`,
    `{{ 'x' * ${w} }}`,
    `{% set s = 'x' * ${w} %}`,
    `{% set ns = namespace(s=' ') %}{% for i in range(${k}) %}{% set ns.s = (ns.s ~ '\n' ~ ns.s) | indent(1000, true) %}{% endfor %}`,
    `{% for m in messages %}{% for i in range(10000) %}{{ m['content'] | tojson }}{% endfor %}{% endfor %}`,
    `{{ 'a\nb' | indent(${w}) }}`,
    `{{ 'a\nb' | indent(width=${w}, first=true) }}`,
    `{{ messages | tojson(indent=${w}) }}`,
    `{% set ns = namespace(s='xxxxxxxxxx') %}{% for i in range(8) %}{% set ns.s = ns.s.replace('x', ns.s) %}{% endfor %}{{ ns.s|length }}`,
    `{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(20) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ range(10000)|join(ns.s) }}`,
    `{% set ns = namespace(l=[1]) %}{% for i in range(${k}) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|length }}`,
    `{% for i in range(10000) %}{{ 'x' * 1000 }}{% endfor %}`,
    `{% for i in range(9000) %}{{ '${'y'.repeat(200)}' }}{% endfor %}`,
  ];
}

const SYNTAX_ERRORS: readonly string[] = [
  '{% for m in messages %}{{ m.role }}',
  '{% endfor %}',
  '{{ messages[0] ',
  '{% if %}x{% endif %}',
  '{% foo %}',
  "{{ 'unterminated }}",
  '{{ }}',
  '{% for in messages %}{% endfor %}',
  '{% set = 1 %}',
  '{% if true %}{% else %}{% else %}{% endif %}',
  '{{ 1 + }}',
  '{% macro %}{% endmacro %}',
  '{% endif %}{% if true %}',
  '{{ a.b.c( }}',
  '{# never closed',
];

function variants(rng: Rng, arch: FuzzArch, base: Files): (() => FuzzCase)[] {
  const original = readJsonFile(base, 'chat_template.json')['chat_template'] as string;
  const where = pick<Where>(rng, ['chat_template.jinja', 'chat_template.json', 'tokenizer_config.json']);
  const atLoad = (name: string, template: string, mentions: readonly string[] = [where]) => loadStageCase('chat-template', arch, `${where}: ${name}`, mentions, placeTemplate(base, where, template));
  const run = (name: string, expect: Expectation, template: string, mentions: readonly string[] = [where]) => loadCase('chat-template', arch, `${where}: ${name}`, expect, mentions, placeTemplate(base, where, template));
  // A bomb before the real template (it runs at the load-time probe) or inside a branch every prompt takes.
  const prefix = (bomb: string) => (rng.next() < 0.5 ? `${bomb}${original}` : `{% if messages|length > 0 %}${bomb}{% endif %}${original}`);
  const cut = rng.int(1, original.length - 1);
  return [
    () => {
      const e = pick(rng, SYNTAX_ERRORS);
      return atLoad(`syntax error ${JSON.stringify(e)} before the template`, `${e}${original}`);
    },
    () => {
      const e = pick(rng, SYNTAX_ERRORS);
      return atLoad(`syntax error ${JSON.stringify(e)} after the template`, `${original}${e}`);
    },
    // Cutting the template can leave a tag open or, by chance, a template that still compiles (then it is just odd).
    () => run(`the template cut at character ${cut} of ${original.length}`, 'either', original.slice(0, cut)),
    () => {
      const bomb = pick(rng, timeBombs(rng));
      return atLoad(`runaway in time ${JSON.stringify(bomb.slice(0, 70))}`, prefix(bomb));
    },
    () => {
      const bomb = pick(rng, memoryBombs(rng));
      return atLoad(`runaway in memory ${JSON.stringify(bomb.slice(0, 80))}`, prefix(bomb));
    },
    () => {
      const msg = pick(rng, ['only text', 'Conversation roles must alternate user/assistant/user/assistant/...', '']);
      return atLoad(`raise_exception(${JSON.stringify(msg)})`, `{{ raise_exception(${JSON.stringify(msg)}) }}${original}`);
    },
    () => atLoad('raise_exception when there is an image', `{% for m in messages %}{% for c in m['content'] %}{% if c['type'] == 'image' %}{{ raise_exception('no images here') }}{% endif %}{% endfor %}{% endfor %}${original}`),
    () => atLoad('a template that drops the image', "{% for m in messages %}{% for c in m['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endfor %}", [where, 'image']),
    () => atLoad('a template that drops the question', "{% for m in messages %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% endif %}{% endfor %}{% endfor %}ASSISTANT:", [where, 'question']),
    () => atLoad('a template that writes the image twice', `{% for m in messages %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<image><image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endfor %}`, [where, 'image']),
    () => atLoad('a constant template', pick(rng, ['', 'hello', '<image>'])),
    () => atLoad('an undefined variable in arithmetic', `{{ no_such_variable + 1 }}${original}`),
    () => atLoad('a method of an undefined variable', `{{ no_such_variable.upper() }}${original}`),
    () => atLoad('a filter the interpreter does not have', `{{ messages | no_such_filter }}${original}`),
    () => run('an undefined variable printed (renders as nothing)', 'accept', `{{ no_such_variable }}${original}`),
    () => run('a comment in front', 'accept', `{# fuzz: a comment ${'.'.repeat(rng.int(0, 2000))} #}${original}`),
    () => run('a block that never runs', 'accept', `{% if false %}{{ raise_exception('never') }}{% for i in range(100000000) %}{% endfor %}{% endif %}${original}`),
    () => run('an unused set', 'accept', `{% set fuzz_unused = namespace(a=1, b=[1, 2, 3]) %}${original}`),
    () => run('wrapped in {% if true %}', 'accept', `{% if true %}${original}{% endif %}`),
    () => run('extra spaces inside every tag', 'accept', original.replace(/\{%\s*/g, '{%   ').replace(/\s*%\}/g, '   %}').replace(/\{\{\s*/g, '{{  ').replace(/\s*\}\}/g, '  }}')),
    () => run('the same template again (unchanged)', 'accept', original),
    () => run('a loop of 1000 that prints nothing', 'accept', `{% for i in range(1000) %}{% endfor %}${original}`),
    () => run('200 nested if blocks', 'accept', `${'{% if true %}'.repeat(200)}${original}${'{% endif %}'.repeat(200)}`),
    () => run('20000 nested if blocks', 'either', `${'{% if true %}'.repeat(20000)}${original}${'{% endif %}'.repeat(20000)}`),
    () => run('a default system prompt before the turn', 'either', `You are a helpful assistant.\n${original}`),
    () => run('bos_token in front', 'either', `{{ bos_token }}${original}`),
    () => run('strftime_now and loop variables', 'either', `{{ strftime_now('%Y') | length }}{% for m in messages %}{{ loop.index }}{% endfor %}${original}`),
    () => run('a long but bounded literal (8,000 characters)', 'either', `${'z '.repeat(4000)}${original}`, [where, 'positions', 'tokens']),
    () => run('a 300,000-character comment', 'accept', `{# ${'c'.repeat(300_000)} #}${original}`),
    () => atLoad('a filter the interpreter lacks on the messages', `{% for c in messages[0]['content'] | batch(2) %}{% endfor %}${original}`),
    () => run('{% raw %} text before the template', 'either', `{% raw %}{{ not a tag }}{% endraw %}${original}`),
    () => run('the question upper-cased', 'either', original.replace(/content\['text'\]/g, "content['text'].upper()").replace(/line\['text'\]/g, "line['text'].upper()"), [where, 'question']),
    () => run('{% generation %} around the whole template', 'either', `{% generation %}${original}{% endgeneration %}`),
  ];
}

function fileVariants(rng: Rng, arch: FuzzArch, base: Files): (() => FuzzCase)[] {
  const CJ = 'chat_template.json';
  const original = readJsonFile(base, CJ)['chat_template'] as string;
  return [
    () => {
      const c = corruptBytes(rng, base.get(CJ)!);
      return loadCase('chat-template', arch, `${CJ}: ${c.how}`, c.expect, [CJ], withBytes(base, CJ, c.bytes));
    },
    () => {
      const v = pick<unknown>(rng, [42, true, ['x'], { a: 1 }, [{ name: 'default', template: original }]]);
      return loadCase('chat-template', arch, `${CJ}: chat_template = ${JSON.stringify(v).slice(0, 40)}`, 'refuse', [CJ, 'chat_template'], editJson(base, CJ, (j) => void (j['chat_template'] = v)));
    },
    // No template anywhere: the LLaVA-1.5 fallback prompt is used; legal, and a different prompt.
    () => loadCase('chat-template', arch, `${CJ} missing (no template anywhere)`, 'either', [CJ], without(base, CJ)),
    () => loadCase('chat-template', arch, `${CJ}: chat_template = null`, 'either', [CJ], editJson(base, CJ, (j) => void (j['chat_template'] = null))),
    () => loadCase('chat-template', arch, 'the template moved to chat_template.jinja', 'accept', [], withBytes(without(base, CJ), 'chat_template.jinja', textBytes(original))),
    () => loadCase('chat-template', arch, 'the template moved to tokenizer_config.json', 'accept', [], placeTemplate(base, 'tokenizer_config.json', original)),
    () =>
      loadCase('chat-template', arch, 'tokenizer_config.json named templates with a "default"', 'accept', [], editJson(without(base, CJ), 'tokenizer_config.json', (j: Json) => void (j['chat_template'] = [{ name: 'tool_use', template: '{{ raise_exception("not this one") }}' }, { name: 'default', template: original }]))),
    () => loadCase('chat-template', arch, 'tokenizer_config.json named templates without a "default"', 'refuse', ['tokenizer_config.json', 'default'], editJson(without(base, CJ), 'tokenizer_config.json', (j: Json) => void (j['chat_template'] = [{ name: 'tool_use', template: original }]))),
    () => {
      // chat_template.jinja wins over chat_template.json: a broken .json template is never read.
      const files = withBytes(editJson(base, CJ, (j) => void (j['chat_template'] = '{% for %}')), 'chat_template.jinja', textBytes(original));
      return loadCase('chat-template', arch, 'chat_template.jinja beside a broken chat_template.json', 'either', [CJ], files);
    },
    () => {
      const bytes = textBytes(original);
      const bad = new Uint8Array(bytes.length + 2);
      bad.set(bytes);
      bad.set([0xc3, 0x28], bytes.length);
      return loadCase('chat-template', arch, 'chat_template.jinja ending in invalid UTF-8', 'either', ['chat_template.jinja', 'UTF-8'], withBytes(base, 'chat_template.jinja', bad));
    },
  ];
}

export const chatTemplateCases: CaseGenerator = {
  family: 'chat-template',
  weight: 1,
  make(rng: Rng, gen: GenContext) {
    const arch = pick(rng, FUZZ_ARCHS);
    const base = gen.baseFiles(arch);
    return pick(rng, rng.next() < 0.8 ? variants(rng, arch, base) : fileVariants(rng, arch, base))();
  },
};
