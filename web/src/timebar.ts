// Timeline state shared by one page's charts and tables, and the bar that
// controls it: live/pause, window presets, shift, zoom out, the range, and a
// scrubber that pins any past second.

import { h, replace, setText } from './dom';
import { fmtClock, fmtDuration, fmtTime } from './format';
import { formatDuration, liveView, viewFromURL, viewParams, type DefaultRange, type TimeView } from './timeline';

export type Change = 'range' | 'tick' | 'pin';

export interface TimelineHost {
  nowSeconds(): number;
  // setQuery writes the view into the URL; push adds a history entry.
  setQuery(q: URLSearchParams, push: boolean): void;
  currentQuery(): URLSearchParams;
}

export class Timeline {
  view: TimeView;
  private readonly listeners = new Set<(c: Change) => void>();

  constructor(
    private readonly host: TimelineHost,
    private readonly fallback?: () => DefaultRange | undefined,
  ) {
    this.view = viewFromURL(host.currentQuery().toString(), host.nowSeconds(), fallback?.());
  }

  onChange(fn: (c: Change) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  // fromURL re-reads the view after back/forward navigation.
  fromURL(): void {
    this.view = viewFromURL(this.host.currentQuery().toString(), this.host.nowSeconds(), this.fallback?.());
    this.emit('range');
  }

  // resetDefault applies the page's default range when the URL names none.
  resetDefault(): void {
    const q = this.host.currentQuery();
    if (q.has('from') || q.has('live')) return;
    this.view = viewFromURL(q.toString(), this.host.nowSeconds(), this.fallback?.());
    this.emit('range');
  }

  zoom(from: number, to: number): void {
    if (to - from < 2) to = from + 2;
    const at = this.view.at !== null && this.view.at >= from && this.view.at <= to ? this.view.at : null;
    this.set({ live: false, anchored: false, window: to - from, from, to, at }, 'range', true);
  }

  setLive(window: number): void {
    this.set(liveView(window, this.host.nowSeconds()), 'range', true);
  }

  pause(): void {
    if (!this.view.live) return;
    this.set({ ...this.view, live: false, anchored: false }, 'range', true);
  }

  resume(): void {
    this.setLive(this.view.window);
  }

  pin(at: number | null): void {
    if (at !== null && this.view.live) {
      this.set({ ...this.view, live: false, anchored: false, at }, 'pin', true);
      return;
    }
    this.set({ ...this.view, at }, 'pin', false);
  }

  shift(direction: -1 | 1): void {
    const span = this.view.to - this.view.from;
    const delta = Math.round(span / 2) * direction;
    let from = this.view.from + delta;
    let to = this.view.to + delta;
    const now = Math.floor(this.host.nowSeconds());
    if (to >= now) {
      this.setLive(span);
      return;
    }
    if (from < 0) {
      from = 0;
      to = span;
    }
    this.set({ live: false, anchored: false, window: span, from, to, at: null }, 'range', true);
  }

  zoomOut(): void {
    const span = this.view.to - this.view.from;
    const mid = (this.view.from + this.view.to) / 2;
    const now = Math.floor(this.host.nowSeconds());
    if (this.view.live || mid + span >= now) {
      this.setLive(span * 2);
      return;
    }
    this.set({ live: false, anchored: false, window: span * 2, from: Math.floor(mid - span), to: Math.ceil(mid + span), at: this.view.at }, 'range', true);
  }

  tick(nowSeconds: number): void {
    if (!this.view.live) return;
    const to = Math.floor(nowSeconds);
    if (to === this.view.to) return;
    this.view = this.view.anchored ? { ...this.view, window: to - this.view.from, to } : { ...this.view, from: to - this.view.window, to };
    this.emit('tick');
  }

  private set(view: TimeView, change: Change, push: boolean): void {
    this.view = view;
    this.host.setQuery(viewParams(view, this.host.currentQuery()), push);
    this.emit(change);
  }

  private emit(c: Change): void {
    for (const fn of this.listeners) fn(c);
  }
}

const presets = [5 * 60, 15 * 60, 60 * 60, 6 * 3600, 24 * 3600, 7 * 86400];

export class TimeBar {
  readonly el: HTMLElement;
  private readonly liveBtn: HTMLButtonElement;
  private readonly rangeText: HTMLElement;
  private readonly slider: HTMLInputElement;
  private readonly pinText: HTMLElement;
  private readonly presetBox: HTMLElement;
  private readonly unsubscribe: () => void;

  constructor(private readonly tl: Timeline) {
    this.liveBtn = h('button', { class: 'btn live-toggle', type: 'button', on: { click: () => (tl.view.live ? tl.pause() : tl.resume()) } });
    this.rangeText = h('span', { class: 'range-text' });
    this.pinText = h('span', { class: 'pin-text' });
    this.presetBox = h('span', { class: 'presets' });
    this.slider = h('input', {
      type: 'range',
      class: 'scrubber',
      'aria-label': 'scrub to an instant',
      title: 'Scrub to any second in the range; the tables and legends show that instant',
      on: {
        input: () => tl.pin(Number(this.slider.value)),
      },
    });
    this.el = h(
      'div',
      { class: 'timebar' },
      this.liveBtn,
      this.presetBox,
      h('button', { class: 'btn', type: 'button', title: 'Earlier by half the range', on: { click: () => tl.shift(-1) } }, '◀'),
      h('button', { class: 'btn', type: 'button', title: 'Later by half the range', on: { click: () => tl.shift(1) } }, '▶'),
      h('button', { class: 'btn', type: 'button', title: 'Zoom out (twice the range)', on: { click: () => tl.zoomOut() } }, 'zoom out'),
      this.rangeText,
      this.slider,
      this.pinText,
    );
    this.unsubscribe = tl.onChange(() => this.update());
    this.update();
  }

  destroy(): void {
    this.unsubscribe();
  }

  update(): void {
    const v = this.tl.view;
    setText(this.liveBtn, v.live ? '● live' : '❚❚ paused');
    this.liveBtn.classList.toggle('is-live', v.live);
    this.liveBtn.title = v.live ? 'Pause: freeze the range' : 'Resume live updates';
    const active = v.live && !v.anchored ? String(v.window) : '';
    if (this.presetBox.childElementCount === 0 || this.presetBox.dataset.active !== active) {
      this.presetBox.dataset.active = active;
      replace(
        this.presetBox,
        presets.map((p) =>
          h(
            'button',
            { class: v.live && !v.anchored && v.window === p ? 'btn small active' : 'btn small', type: 'button', title: `Live: the last ${formatDuration(p)}`, on: { click: () => this.tl.setLive(p) } },
            formatDuration(p),
          ),
        ),
      );
    }
    const span = v.to - v.from;
    setText(this.rangeText, `${fmtTime(v.from * 1000)} → ${span > 86400 ? fmtTime(v.to * 1000) : fmtClock(v.to * 1000)} (${fmtDuration(span)})`);
    this.slider.min = String(Math.floor(v.from));
    this.slider.max = String(Math.ceil(v.to));
    this.slider.step = '1';
    this.slider.value = String(v.at ?? v.to);
    if (v.at !== null) {
      replace(
        this.pinText,
        h('span', { class: 'pinned' }, `pinned ${fmtTime(v.at * 1000)}`),
        h('button', { class: 'btn small', type: 'button', title: 'Unpin', on: { click: () => this.tl.pin(null) } }, '×'),
      );
    } else {
      replace(this.pinText, h('span', { class: 'dim' }, v.anchored ? `live since ${fmtClock(v.from * 1000)}` : v.live ? 'showing now' : 'showing range end'));
    }
  }
}
