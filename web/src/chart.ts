// A chart panel: a uPlot time-series chart with a legend table that shows
// the exact value of every series at the cursor (or the pinned instant),
// event markers, a table view of every point, and export links. All panels
// of a page share one cursor (uPlot cursor.sync) and one time axis; a drag
// selects a range that the page turns into a zoom for every panel.

import uPlot from 'uplot';
import { h, replace, setText } from './dom';
import { axisTick, fmtAxisTime, fmtClock, fmtRelative, fmtTime, fmtUnit, isNum, unitLabel, type Unit } from './format';

export interface Grid {
  start: number; // first x (Unix seconds, or seconds since a run's start)
  end: number; // last x
  step: number; // seconds between points
}

export interface SeriesData {
  key: string; // identity across reloads (labels)
  label: string; // legend text (untrusted: rendered as text only)
  colorKey: string; // series with the same colorKey share a colour (a usage line and its limit)
  dashed?: boolean; // limits are dashed
  color?: string; // a fixed colour (compare view: A and B), else one from the palette
  points: [number, number | null][];
}

export interface Marker {
  t: number; // x value
  kind: string;
  text: string; // short label drawn on the canvas
  title?: string; // the whole story, shown on hovering the marker's flag
  color?: string; // instead of the kind's colour (compare view: A and B)
}

// A knee is the finding of a run, not a moment of its bookkeeping: it is
// drawn solid and heavier than every other marker (starts, ends, scaling
// are dashed).
function isStrong(m: Marker): boolean {
  return m.kind === 'knee';
}

export interface PanelOptions {
  id: string;
  title: string;
  unit: Unit;
  syncKey: string;
  relative?: boolean; // x is seconds since start (compare view), not wall-clock time
  height?: number;
  yMax?: number; // a fixed upper bound (ratios: 1)
  exportQuery?: () => string | null; // PromQL for the export links, if any
  exportRange?: () => { start: number; end: number; step: number } | null;
  onSelectRange?: (from: number, to: number) => void;
  onPin?: (x: number) => void;
  empty?: string | (() => string); // what to say when there are no series
}

const palette = [
  '#4fa3ff', '#ffb020', '#3ecf8e', '#ff5c7a', '#b48cff', '#33d6d6', '#f2e85c',
  '#ff8a3d', '#8fd14f', '#e86bd1', '#7aa2c8', '#d0a070',
];

export const markerColors: Record<string, string> = {
  run_started: '#3ecf8e',
  run_finished: '#9aa4b2',
  run_aborted: '#ff5c7a',
  run_lost: '#ff5c7a',
  scale_out: '#4fa3ff',
  scale_in: '#b48cff',
  knee: '#ff3355',
  saturation: '#ff3355',
};

const axisFont = '11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
const axisSize = 84; // every panel's y axis has the same width so the x axes line up

interface Stored {
  meta: Omit<SeriesData, 'points'>;
  values: Map<number, number | null>;
}

export class Panel {
  readonly el: HTMLElement;
  private readonly plotEl: HTMLElement;
  private readonly legendBody: HTMLTableSectionElement;
  private readonly cursorLabel: HTMLElement;
  private readonly tableWrap: HTMLElement;
  private readonly exportLinks: HTMLElement;
  private readonly statusEl: HTMLElement;
  private plot: uPlot | null = null;
  private stored = new Map<string, Stored>();
  private order: string[] = [];
  private grid: Grid | null = null;
  private xs: number[] = [];
  private pinned: number | null = null;
  private markers: Marker[] = [];
  private showTable = false;
  private legendCells: { value: HTMLElement; min: HTMLElement; max: HTMLElement }[] = [];
  private readonly resize: ResizeObserver;
  private colors = new Map<string, string>();

  constructor(private readonly opts: PanelOptions) {
    this.plotEl = h('div', { class: 'plot' });
    this.legendBody = h('tbody');
    this.cursorLabel = h('span', { class: 'cursor-at' });
    this.tableWrap = h('div', { class: 'series-table', hidden: true });
    this.exportLinks = h('span', { class: 'exports' });
    this.statusEl = h('div', { class: 'panel-status' });
    const tableBtn = h(
      'button',
      {
        class: 'btn small',
        type: 'button',
        title: 'List every point of every series',
        on: {
          click: () => {
            this.showTable = !this.showTable;
            tableBtn.classList.toggle('active', this.showTable);
            this.tableWrap.hidden = !this.showTable;
            this.renderTable();
          },
        },
      },
      'table',
    );
    this.el = h(
      'section',
      { class: 'panel', data: { panel: opts.id } },
      h(
        'header',
        null,
        h('h3', null, opts.title),
        h('span', { class: 'unit' }, unitLabel(opts.unit)),
        this.cursorLabel,
        h('span', { class: 'spacer' }),
        this.exportLinks,
        tableBtn,
      ),
      this.statusEl,
      this.plotEl,
      h(
        'table',
        { class: 'legend' },
        h('thead', null, h('tr', null, h('th', null, ''), h('th', null, 'series'), h('th', { class: 'num' }, 'value'), h('th', { class: 'num' }, 'min'), h('th', { class: 'num' }, 'max'))),
        this.legendBody,
      ),
      this.tableWrap,
    );
    this.resize = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize(this.size());
    });
    this.resize.observe(this.plotEl);
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }

  setStatus(text: string, isError = false): void {
    setText(this.statusEl, text);
    this.statusEl.classList.toggle('error', isError);
  }

  // setSeries replaces everything the panel shows.
  setSeries(series: SeriesData[], grid: Grid): void {
    this.stored.clear();
    this.merge(series, grid);
  }

  // merge adds or overwrites points (a live tail) and moves the grid,
  // dropping points that fell out of it.
  merge(series: SeriesData[], grid: Grid): void {
    for (const s of series) {
      let st = this.stored.get(s.key);
      if (!st) {
        st = { meta: { key: s.key, label: s.label, colorKey: s.colorKey, dashed: s.dashed, color: s.color }, values: new Map() };
        if (s.color) this.colors.set(s.colorKey, s.color);
        this.stored.set(s.key, st);
      }
      for (const [x, v] of s.points) st.values.set(x, v);
    }
    for (const st of this.stored.values()) {
      for (const x of st.values.keys()) if (x < grid.start || x > grid.end) st.values.delete(x);
    }
    this.grid = grid;
    this.render();
  }

  setMarkers(markers: Marker[]): void {
    this.markers = markers;
    this.plot?.redraw(false, false);
  }

  setPinned(x: number | null): void {
    this.pinned = x;
    this.plot?.redraw(false, false);
    this.updateLegend(null);
  }

  seriesCount(): number {
    return this.stored.size;
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(200, this.plotEl.clientWidth), height: this.opts.height ?? 170 };
  }

  private colorFor(colorKey: string): string {
    let c = this.colors.get(colorKey);
    if (!c) {
      c = palette[this.colors.size % palette.length];
      this.colors.set(colorKey, c);
    }
    return c;
  }

  private render(): void {
    const grid = this.grid;
    if (!grid) return;
    const xs: number[] = [];
    for (let x = grid.start; x <= grid.end + 1e-9; x += grid.step) xs.push(Math.round(x * 1000) / 1000);
    this.xs = xs;
    // The range on show, for a reader's tools and the browser tests.
    this.el.dataset.xmin = String(grid.start);
    this.el.dataset.xmax = String(grid.end);
    const order = [...this.stored.keys()].sort((a, b) => {
      const sa = this.stored.get(a)!.meta;
      const sb = this.stored.get(b)!.meta;
      if (sa.colorKey !== sb.colorKey) return sa.colorKey.localeCompare(sb.colorKey);
      return Number(sa.dashed ?? false) - Number(sb.dashed ?? false);
    });
    const data: uPlot.AlignedData = [xs, ...order.map((k) => xs.map((x) => this.stored.get(k)!.values.get(x) ?? null))];
    const sameSeries = this.plot && order.length === this.order.length && order.every((k, i) => k === this.order[i]);
    this.order = order;
    const empty = typeof this.opts.empty === 'function' ? this.opts.empty() : this.opts.empty;
    if (order.length === 0) this.setStatus(empty ?? 'no data in this range');
    else if (this.statusEl.textContent && !this.statusEl.classList.contains('error')) this.setStatus('');
    if (sameSeries && this.plot) {
      this.plot.setData(data, true);
    } else {
      this.plot?.destroy();
      this.plot = new uPlot(this.options(order), data, this.plotEl);
      this.buildLegend(order);
    }
    this.updateLegend(null);
    this.updateExports();
    if (this.showTable) this.renderTable();
  }

  private options(order: string[]): uPlot.Options {
    const unit = this.opts.unit;
    const relative = this.opts.relative ?? false;
    const series: uPlot.Series[] = [
      { label: relative ? 'since start' : 'time' },
      ...order.map((k) => {
        const m = this.stored.get(k)!.meta;
        return {
          label: m.label,
          stroke: this.colorFor(m.colorKey),
          width: m.dashed ? 1 : 1.5,
          dash: m.dashed ? [6, 4] : undefined,
          points: { show: false },
          spanGaps: false,
        } satisfies uPlot.Series;
      }),
    ];
    const yMax = this.opts.yMax;
    return {
      ...this.size(),
      legend: { show: false },
      series,
      padding: [8, 28, 0, 0],
      scales: {
        x: { time: !relative },
        y: {
          range: (_u, _min, max) => {
            const top = yMax ?? (isNum(max) && max > 0 ? max * 1.08 : 1);
            return [0, top];
          },
        },
      },
      axes: [
        {
          stroke: '#8b95a5',
          font: axisFont,
          grid: { stroke: 'rgba(139,149,165,0.12)', width: 1 },
          ticks: { stroke: 'rgba(139,149,165,0.25)', width: 1 },
          // Labels are up to 8 monospace characters (HH:MM:SS): keep ticks far enough apart.
          space: 90,
          incrs: relative ? [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200] : undefined,
          values: relative ? (_u, vals) => vals.map((v) => fmtRelative(v)) : (_u, vals, _axis, _space, incr) => vals.map((v) => fmtAxisTime(v, incr)),
        },
        {
          stroke: '#8b95a5',
          font: axisFont,
          size: axisSize,
          grid: { stroke: 'rgba(139,149,165,0.12)', width: 1 },
          ticks: { stroke: 'rgba(139,149,165,0.25)', width: 1 },
          values: (_u, vals) => vals.map((v) => axisTick(v, unit)),
        },
      ],
      cursor: {
        sync: { key: this.opts.syncKey, setSeries: false, scales: ['x', null] },
        drag: { x: true, y: false, setScale: false, dist: 4 },
        points: { size: 6 },
        focus: { prox: -1 },
      },
      hooks: {
        setCursor: [(u) => this.updateLegend(u.cursor.idx ?? null)],
        setSelect: [
          (u) => {
            if (u.select.width < 4) return;
            const from = u.posToVal(u.select.left, 'x');
            const to = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            this.opts.onSelectRange?.(Math.floor(from), Math.ceil(to));
          },
        ],
        ready: [
          (u) => {
            u.over.addEventListener('click', () => {
              const left = u.cursor.left ?? -1;
              if (left < 0) return;
              const idx = u.posToIdx(left);
              const x = this.xs[idx];
              if (x !== undefined) this.opts.onPin?.(x);
            });
          },
        ],
        draw: [(u) => this.drawOverlays(u)],
      },
    };
  }

  private drawOverlays(u: uPlot): void {
    const ctx = u.ctx;
    const { top, height } = u.bbox;
    const min = u.scales.x.min ?? -Infinity;
    const max = u.scales.x.max ?? Infinity;
    const dpr = window.devicePixelRatio || 1;
    ctx.save();
    ctx.textBaseline = 'top';
    // uPlot leaves the context as its last axis drew it (right-aligned):
    // labels start at their marker and run to the right.
    ctx.textAlign = 'left';
    // Labels go on the first of three rows where they do not overlap the
    // previous label; a marker with no free row keeps its line only.
    const rowEnds = [-Infinity, -Infinity, -Infinity];
    const sorted = [...this.markers].sort((a, b) => a.t - b.t);
    // Each visible marker also gets a flag at the top of the plot: an
    // element that says what it marks on hover, and that a reader's tools
    // (and the browser tests) can find.
    const flags: HTMLElement[] = [];
    for (const m of sorted) {
      if (m.t < min || m.t > max) continue;
      const strong = isStrong(m);
      const x = Math.round(u.valToPos(m.t, 'x', true));
      const color = m.color ?? markerColors[m.kind] ?? '#f2e85c';
      ctx.strokeStyle = color;
      ctx.lineWidth = (strong ? 2 : 1) * dpr;
      ctx.setLineDash(strong ? [] : [3 * dpr, 3 * dpr]);
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
      ctx.font = `${strong ? 'bold ' : ''}${10 * dpr}px ui-monospace, Menlo, Consolas, monospace`;
      const width = ctx.measureText(m.text).width;
      const textX = x + (strong ? 9 : 4) * dpr; // clear of the marker's flag
      const row = rowEnds.findIndex((end) => textX > end);
      if (row >= 0) {
        ctx.fillStyle = color;
        ctx.fillText(m.text, textX, top + 2 * dpr + row * 11 * dpr);
        rowEnds[row] = textX + width + 6 * dpr;
      }
      flags.push(
        h('span', {
          class: strong ? 'marker-flag strong' : 'marker-flag',
          title: m.title ?? m.text,
          data: { kind: m.kind, t: String(m.t) },
          style: { left: `${u.valToPos(m.t, 'x')}px`, '--c': color },
        }),
      );
    }
    let layer = u.over.querySelector<HTMLElement>(':scope > .marker-flags');
    if (!layer) {
      layer = h('div', { class: 'marker-flags' });
      u.over.appendChild(layer);
    }
    replace(layer, flags);
    if (this.pinned !== null && this.pinned >= min && this.pinned <= max) {
      const x = Math.round(u.valToPos(this.pinned, 'x', true));
      ctx.setLineDash([]);
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = dpr;
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
    }
    ctx.restore();
  }

  private buildLegend(order: string[]): void {
    this.legendCells = [];
    const rows = order.map((k) => {
      const m = this.stored.get(k)!.meta;
      const cells = { value: h('td', { class: 'num' }), min: h('td', { class: 'num dim' }), max: h('td', { class: 'num dim' }) };
      this.legendCells.push(cells);
      const swatch = h('span', { class: m.dashed ? 'swatch dashed' : 'swatch', style: { '--c': this.colorFor(m.colorKey) } });
      return h('tr', { data: { series: m.key } }, h('td', null, swatch), h('td', { class: 'series-name', title: m.label }, m.label), cells.value, cells.min, cells.max);
    });
    replace(this.legendBody, rows);
  }

  // updateLegend shows the values at the hovered index, else at the pinned
  // instant, else the latest point that has a value.
  private updateLegend(hoverIdx: number | null): void {
    if (!this.plot) return;
    const data = this.plot.data;
    let idx = hoverIdx;
    let label = 'at cursor';
    if (idx === null && this.pinned !== null) {
      const i = this.xs.indexOf(this.pinned);
      idx = i >= 0 ? i : this.nearestIdx(this.pinned);
      label = 'pinned';
    }
    if (idx === null) label = 'latest';
    const x = idx !== null ? this.xs[idx] : undefined;
    setText(this.cursorLabel, x !== undefined ? `${label} ${this.fmtX(x)}` : label);
    // The raw x (Unix seconds) lets a reader's tools, and the browser tests,
    // match the shown values to the query API exactly.
    this.cursorLabel.dataset.x = x !== undefined ? String(x) : '';
    this.cursorLabel.dataset.mode = label;
    this.order.forEach((_k, i) => {
      const ys = data[i + 1] as (number | null)[];
      let v: number | null | undefined;
      if (idx !== null) v = ys[idx];
      else {
        for (let j = ys.length - 1; j >= 0; j--) {
          if (ys[j] !== null && ys[j] !== undefined) {
            v = ys[j];
            break;
          }
        }
      }
      let mn = Infinity;
      let mx = -Infinity;
      for (const y of ys) {
        if (isNum(y)) {
          if (y < mn) mn = y;
          if (y > mx) mx = y;
        }
      }
      const cells = this.legendCells[i];
      if (!cells) return;
      setText(cells.value, fmtUnit(v ?? null, this.opts.unit));
      setText(cells.min, fmtUnit(mn === Infinity ? null : mn, this.opts.unit));
      setText(cells.max, fmtUnit(mx === -Infinity ? null : mx, this.opts.unit));
    });
  }

  private nearestIdx(x: number): number | null {
    if (this.xs.length === 0) return null;
    let best = 0;
    for (let i = 1; i < this.xs.length; i++) if (Math.abs(this.xs[i] - x) < Math.abs(this.xs[best] - x)) best = i;
    return best;
  }

  private fmtX(x: number): string {
    if (this.opts.relative) return fmtRelative(x);
    return this.grid && this.grid.end - this.grid.start > 86400 ? fmtTime(x * 1000) : fmtClock(x * 1000);
  }

  private updateExports(): void {
    const query = this.opts.exportQuery?.();
    const range = this.opts.exportRange?.();
    if (!query || !range) {
      replace(this.exportLinks);
      return;
    }
    const q = new URLSearchParams({ query, start: String(range.start), end: String(range.end), step: `${range.step}s` });
    const link = (format: string) => {
      q.set('format', format);
      return h('a', { class: 'btn small', href: `/api/v1/export?${q.toString()}`, download: '', title: `Export this panel's series as ${format.toUpperCase()}` }, format);
    };
    replace(this.exportLinks, link('csv'), link('json'));
  }

  private renderTable(): void {
    if (!this.showTable || !this.plot) return;
    const data = this.plot.data;
    const maxRows = 2000;
    const rows: HTMLTableRowElement[] = [];
    const first = Math.max(0, this.xs.length - maxRows);
    for (let i = this.xs.length - 1; i >= first; i--) {
      rows.push(
        h(
          'tr',
          null,
          h('td', { class: 'ts' }, this.opts.relative ? fmtRelative(this.xs[i]) : fmtTime(this.xs[i] * 1000)),
          this.order.map((_k, s) => h('td', { class: 'num' }, fmtUnit((data[s + 1] as (number | null)[])[i] ?? null, this.opts.unit))),
        ),
      );
    }
    replace(
      this.tableWrap,
      this.xs.length > maxRows ? h('p', { class: 'dim' }, `newest ${maxRows} of ${this.xs.length} points; the export links give all of them`) : null,
      h(
        'table',
        { class: 'data' },
        h('thead', null, h('tr', null, h('th', null, this.opts.relative ? 'since start' : 'time'), this.order.map((k) => h('th', { class: 'num' }, this.stored.get(k)!.meta.label)))),
        h('tbody', null, rows),
      ),
    );
  }
}
