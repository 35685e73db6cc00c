// DOM construction for the whole UI. Container names, images, labels, run
// names and event messages are written by whoever runs containers or tests,
// so every piece of text goes through textContent / setAttribute here and
// nothing in the UI assigns innerHTML.

export type Child = Node | string | number | null | undefined | false | Child[];

type Handler = (ev: Event) => void;

export interface Attrs {
  class?: string;
  title?: string;
  href?: string;
  style?: Partial<Record<string, string>>;
  on?: Partial<Record<string, Handler>>;
  data?: Record<string, string>;
  [attr: string]: unknown;
}

// Only same-origin relative links and our own API are ever built; anything
// else (javascript:, data:, another host) is refused rather than rendered.
function safeHref(href: string): string {
  if (href.startsWith('/') && !href.startsWith('//')) return href;
  if (href.startsWith('?') || href.startsWith('#')) return href;
  throw new Error(`refusing to render link ${JSON.stringify(href)}: only same-origin paths are allowed`);
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'on') {
        for (const [ev, fn] of Object.entries(value as Record<string, Handler>)) {
          if (fn) el.addEventListener(ev, fn);
        }
      } else if (key === 'style') {
        for (const [prop, v] of Object.entries(value as Record<string, string>)) {
          if (v !== undefined) el.style.setProperty(prop, v);
        }
      } else if (key === 'data') {
        for (const [k, v] of Object.entries(value as Record<string, string>)) el.dataset[k] = v;
      } else if (key.startsWith('on')) {
        throw new Error(`inline handler attribute ${key} is not allowed; use on: {...}`);
      } else if (key === 'href') {
        el.setAttribute('href', safeHref(String(value)));
      } else if (key === 'value' && 'value' in el) {
        (el as HTMLInputElement).value = String(value);
      } else if (key === 'checked' && 'checked' in el) {
        (el as HTMLInputElement).checked = Boolean(value);
      } else {
        el.setAttribute(key, value === true ? '' : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else if (c instanceof Node) parent.appendChild(c);
    else parent.appendChild(document.createTextNode(String(c)));
  }
}

// replace swaps an element's children for new ones.
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

// setText updates a text-only element without touching the DOM when the
// text is unchanged (live updates run every second).
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}
