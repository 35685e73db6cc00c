// A group of chart panels on one timeline: loads them for the current range,
// follows the live window with small tail queries each second, turns a drag
// on any chart into a zoom for all of them, and a click into a pinned instant.

import { ApiError } from './api';
import { Panel, type Grid, type Marker, type PanelOptions } from './chart';
import { loadSeries, withTotal, type SeriesQuery, type Total } from './queries';
import type { Change, Timeline } from './timebar';
import { alignedStart, stepFor } from './timeline';

export interface PanelDef {
  panel: Omit<PanelOptions, 'syncKey' | 'onSelectRange' | 'onPin' | 'exportQuery' | 'exportRange'>;
  queries: () => SeriesQuery[];
  // total adds the pointwise sum of the panel's solid series (not its dashed
  // limits), computed here rather than queried again: one query fewer per
  // panel and second. It is shown once there are at least minSeries series.
  total?: Total;
}


// Tail queries re-read the last seconds too: load results for a second are
// written once every source reported it, a few seconds after it ended.
const tailSeconds = 12;

export class PanelGroup {
  readonly panels: Panel[];
  private grid: Grid | null = null;
  private abort: AbortController | null = null;
  private tailBusy = false;
  private readonly unsubscribe: () => void;
  private markers: Marker[] = [];

  constructor(
    private readonly timeline: Timeline,
    private readonly defs: PanelDef[],
    syncKey: string,
    private readonly onLoaded?: (change: Change) => void,
  ) {
    this.panels = defs.map(
      (d) =>
        new Panel({
          ...d.panel,
          syncKey,
          onSelectRange: (from, to) => timeline.zoom(from, to),
          onPin: (x) => timeline.pin(x),
          exportQuery: () => {
            const q = d.queries()[0];
            return q && this.grid ? q.expr(this.grid.step) : null;
          },
          exportRange: () => this.grid,
        }),
    );
    this.unsubscribe = timeline.onChange((c) => this.changed(c));
  }

  get elements(): HTMLElement[] {
    return this.panels.map((p) => p.el);
  }

  destroy(): void {
    this.unsubscribe();
    this.abort?.abort();
    for (const p of this.panels) p.destroy();
  }

  setMarkers(markers: Marker[]): void {
    this.markers = markers;
    for (const p of this.panels) p.setMarkers(markers);
  }

  currentGrid(): Grid | null {
    return this.grid;
  }

  private changed(c: Change): void {
    if (c === 'pin') {
      for (const p of this.panels) p.setPinned(this.timeline.view.at);
      this.onLoaded?.('pin');
      return;
    }
    if (c === 'tick') {
      void this.tail();
      return;
    }
    void this.reload();
  }

  gridFor(from: number, to: number): Grid {
    const step = stepFor(from, to);
    return { start: alignedStart(from, step), end: Math.floor(to / step) * step, step };
  }

  async reload(): Promise<void> {
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    const v = this.timeline.view;
    const grid = this.gridFor(v.from, v.to);
    this.grid = grid;
    await Promise.all(
      this.panels.map(async (p, i) => {
        try {
          const series = withTotal(await loadSeries(this.defs[i].queries(), grid, ac.signal), this.defs[i].total);
          if (ac.signal.aborted) return;
          p.setSeries(series, grid);
          p.setMarkers(this.markers);
          p.setPinned(v.at);
        } catch (err) {
          if (ac.signal.aborted) return;
          p.setStatus(describe(err), true);
        }
      }),
    );
    if (!ac.signal.aborted) this.onLoaded?.('range');
  }

  private async tail(): Promise<void> {
    const v = this.timeline.view;
    const full = this.gridFor(v.from, v.to);
    if (!this.grid || full.step !== this.grid.step || this.tailBusy) {
      if (!this.tailBusy) await this.reload();
      return;
    }
    this.tailBusy = true;
    const signal = this.abort?.signal;
    try {
      const tailGrid: Grid = { start: Math.max(full.start, full.end - tailSeconds * full.step), end: full.end, step: full.step };
      await Promise.all(
        this.panels.map(async (p, i) => {
          try {
            const series = withTotal(await loadSeries(this.defs[i].queries(), tailGrid, signal), this.defs[i].total);
            if (signal?.aborted) return;
            p.merge(series, full);
          } catch (err) {
            if (signal?.aborted) return;
            p.setStatus(describe(err), true);
          }
        }),
      );
      this.grid = full;
      if (!signal?.aborted) this.onLoaded?.('tick');
    } finally {
      this.tailBusy = false;
    }
  }
}

export function describe(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
