// Small DOM helpers: the page has no UI framework on purpose (plain modules, real elements).

/** The element with this id; throws at start-up (not later) if index.html lacks it. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el as T;
}

type Child = Node | string | number | null | undefined | false;

/** Creates an element with attributes (strings; `true` for boolean attributes) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'object' ? c : String(c));
  return el;
}

/** Replaces an element's children. */
export function setChildren(el: Element, ...children: Child[]): void {
  el.replaceChildren(...children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map((c) => (typeof c === 'object' ? c : String(c))));
}

/** A <dt>/<dd> list; each value's raw number (if any) goes to data-value so tests can read it. */
export function fillKv(dl: HTMLElement, rows: [label: string, value: Child, raw?: number, key?: string][]): void {
  setChildren(
    dl,
    ...rows.flatMap(([label, value, raw, key]) => [
      h('dt', {}, label),
      h('dd', { 'data-value': raw === undefined ? undefined : String(raw), 'data-metric': key }, value),
    ]),
  );
}

/** Saves bytes as a file through a temporary object URL (no server involved). */
export function downloadBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  // Revoke later: some browsers start reading the URL after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function selectedRadio(name: string): string {
  return document.querySelector<HTMLInputElement>(`input[name="${name}"]:checked`)?.value ?? '';
}
