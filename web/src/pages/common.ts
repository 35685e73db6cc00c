// Pieces shared by the pages: section headings, tables of exact numbers,
// the instant a table shows, and status badges.

import type { HubEvent, Run } from '../api';
import { h, type Child } from '../dom';
import { kneeEventLabel } from '../knee';
import type { TimeView } from '../timeline';

export function section(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'block' }, h('h2', null, title), children);
}

export interface Column<T> {
  title: string;
  num?: boolean;
  cell: (row: T) => Child;
  hint?: string;
}

export function table<T>(cls: string, cols: Column<T>[], rows: T[], empty: string, rowAttrs?: (row: T) => Record<string, string>): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty-note' }, empty);
  return h(
    'table',
    { class: `data ${cls}` },
    h('thead', null, h('tr', null, cols.map((c) => h('th', { class: c.num ? 'num' : undefined, title: c.hint }, c.title)))),
    h(
      'tbody',
      null,
      rows.map((r) => h('tr', rowAttrs ? { data: rowAttrs(r) } : null, cols.map((c) => h('td', { class: c.num ? 'num' : undefined }, c.cell(r))))),
    ),
  );
}

// instantOf is the moment the tables of a page show: the pinned second,
// else now for a live view, else the end of the fixed range.
export function instantOf(view: TimeView): number | null {
  if (view.at !== null) return view.at;
  return view.live ? null : view.to;
}

export function statusBadge(run: Pick<Run, 'status' | 'thresholds_ok'>): HTMLElement {
  const parts: Child[] = [h('span', { class: `badge status-${run.status}` }, run.status)];
  if (run.thresholds_ok === true) parts.push(h('span', { class: 'badge ok' }, 'thresholds ok'));
  if (run.thresholds_ok === false) parts.push(h('span', { class: 'badge bad' }, 'threshold failed'));
  return h('span', { class: 'badges' }, parts);
}

export function runHref(id: string, extra?: Record<string, string>): string {
  const q = extra ? `?${new URLSearchParams(extra).toString()}` : '';
  return `/runs/${encodeURIComponent(id)}${q}`;
}

export function errorBox(text: string): HTMLElement {
  return h('div', { class: 'error-box', role: 'alert' }, text);
}

// markerText is an event's short label on the charts.
export function markerText(e: HubEvent): string {
  switch (e.kind) {
    case 'run_started':
      return 'run start';
    case 'run_finished':
      return 'run end';
    case 'run_aborted':
      return 'run aborted';
    case 'scale_out':
      return `scale out${e.fields?.replicas ? ` → ${e.fields.replicas}` : ''}`;
    case 'scale_in':
      return `scale in${e.fields?.replicas ? ` → ${e.fields.replicas}` : ''}`;
    case 'knee':
      return kneeEventLabel(e);
    default:
      return e.kind.replaceAll('_', ' ');
  }
}
