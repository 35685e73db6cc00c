// The application shell: header, navigation, client-side routing (the hub
// serves index.html for every non-API path, so /runs/<id>?from=&to= can be
// bookmarked), the hub's clock and the live stream.

import { api, type Status } from './api';
import { h, replace, setText } from './dom';
import { LiveStream } from './live';
import type { TimelineHost } from './timebar';

export interface PageContext {
  app: App;
  root: HTMLElement;
  params: Record<string, string>;
}

export interface Page {
  destroy(): void;
  // onQuery runs when only the URL's query changed (back/forward).
  onQuery?(): void;
}

export interface Route {
  pattern: RegExp;
  names: string[];
  nav: string;
  create: (ctx: PageContext) => Page;
}

export class App implements TimelineHost {
  readonly stream = new LiveStream();
  // The hub's status as read at start; null until then or when it failed.
  status: Status | null = null;
  private clockOffsetMs = 0;
  private page: Page | null = null;
  private pagePath = '';
  private readonly main: HTMLElement;
  private readonly navLinks: Map<string, HTMLAnchorElement>;
  private readonly streamDot: HTMLElement;
  private readonly hubInfo: HTMLElement;

  constructor(
    mount: HTMLElement,
    private readonly routes: Route[],
  ) {
    this.main = h('main', { id: 'page' });
    this.streamDot = h('span', { class: 'stream-state', title: 'live stream from the hub' });
    this.hubInfo = h('span', { class: 'hub-info dim' });
    this.navLinks = new Map(
      [
        ['cluster', '/', 'Cluster'],
        ['runs', '/runs', 'Runs'],
        ['compare', '/compare', 'Compare'],
        ['agents', '/agents', 'Agents'],
      ].map(([key, href, text]) => [key, h('a', { href, class: 'nav' }, text)]),
    );
    replace(
      mount,
      h('header', { class: 'top' }, h('a', { href: '/', class: 'brand' }, 'brink'), [...this.navLinks.values()], h('span', { class: 'spacer' }), this.hubInfo, this.streamDot),
      this.main,
    );
    document.addEventListener('click', (ev) => this.interceptLink(ev));
    window.addEventListener('popstate', () => this.route());
    this.stream.subscribe({
      tick: (t) => {
        this.clockOffsetMs = t.now_ms - Date.now();
        setText(this.hubInfo, `${t.series.toLocaleString('en-US')} series`);
      },
      state: (s) => this.showStreamState(s),
    });
    this.showStreamState(this.stream.state);
  }

  async start(): Promise<void> {
    this.stream.start();
    try {
      const st = await api.status();
      this.status = st;
      this.clockOffsetMs = st.now_ms - Date.now();
      this.hubInfo.title = `hub ${st.version}, started ${new Date(st.started_ms).toISOString()}`;
      setText(this.hubInfo, `${st.series.toLocaleString('en-US')} series`);
    } catch (err) {
      setText(this.hubInfo, `hub status unavailable: ${String(err)}`);
    }
    this.route();
  }

  nowSeconds(): number {
    return (Date.now() + this.clockOffsetMs) / 1000;
  }

  currentQuery(): URLSearchParams {
    return new URLSearchParams(location.search);
  }

  setQuery(q: URLSearchParams, push: boolean): void {
    const qs = q.toString();
    const url = `${location.pathname}${qs ? `?${qs}` : ''}`;
    if (url === `${location.pathname}${location.search}`) return;
    if (push) history.pushState(null, '', url);
    else history.replaceState(null, '', url);
  }

  go(url: string): void {
    history.pushState(null, '', url);
    this.route();
  }

  private interceptLink(ev: MouseEvent): void {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = (ev.target as Element | null)?.closest?.('a');
    if (!a || a.hasAttribute('download') || a.target) return;
    const href = a.getAttribute('href');
    if (!href || !href.startsWith('/') || href.startsWith('//') || href.startsWith('/api/')) return;
    ev.preventDefault();
    this.go(href);
  }

  private route(): void {
    const path = location.pathname;
    if (this.page && path === this.pagePath) {
      this.page.onQuery?.();
      return;
    }
    this.page?.destroy();
    this.page = null;
    this.pagePath = path;
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])));
      for (const [key, a] of this.navLinks) a.classList.toggle('active', key === r.nav);
      replace(this.main);
      this.page = r.create({ app: this, root: this.main, params });
      return;
    }
    replace(this.main, h('div', { class: 'empty' }, h('h2', null, 'Not found'), h('p', null, 'No page at ', h('code', null, path), '. ', h('a', { href: '/' }, 'Go to the cluster view'), '.')));
  }

  private showStreamState(s: string): void {
    const text = s === 'open' ? 'live' : s === 'connecting' ? 'connecting…' : 'disconnected';
    setText(this.streamDot, text);
    this.streamDot.dataset.state = s;
  }
}
