// Runs: every test run the hub knows, newest first, searchable by id, name,
// service, scenario text and labels; pick two to compare.

import { api, type Run } from '../api';
import type { PageContext, Page } from '../app';
import { h, replace } from '../dom';
import { fmtCount, fmtDuration, fmtPct, fmtRps, fmtTime } from '../format';
import { describe } from '../panels';
import { errorBox, runHref, statusBadge, table } from './common';

export function runsPage(ctx: PageContext): Page {
  const { app, root } = ctx;
  const q0 = app.currentQuery();
  const search = h('input', {
    type: 'search',
    class: 'search',
    placeholder: 'search id, name, service, scenario, labels',
    'aria-label': 'search runs',
    value: q0.get('q') ?? '',
  });
  const status = h(
    'select',
    { 'aria-label': 'status' },
    ['', 'running', 'finished', 'aborted', 'lost'].map((s) => h('option', { value: s }, s || 'any status')),
  );
  status.value = q0.get('status') ?? '';
  const compareBtn = h('button', { class: 'btn primary', type: 'button', disabled: true }, 'Compare selected');
  const listBox = h('div', { class: 'table-box', data: { table: 'runs' } });
  const moreNote = h('p', { class: 'dim' });
  const selected: string[] = [];

  replace(
    root,
    h('div', { class: 'toolbar' }, h('h1', null, 'Runs'), search, status, compareBtn, h('span', { class: 'dim' }, 'tick two runs to compare them on relative time')),
    listBox,
    moreNote,
  );

  compareBtn.addEventListener('click', () => {
    if (selected.length === 2) app.go(`/compare?${new URLSearchParams({ a: selected[0], b: selected[1] }).toString()}`);
  });

  let runs: Run[] = [];
  let abort: AbortController | null = null;
  async function load(): Promise<void> {
    abort?.abort();
    const ac = new AbortController();
    abort = ac;
    const q = app.currentQuery();
    try {
      const res = await api.runs({ q: q.get('q') ?? '', status: q.get('status') ?? '', limit: 200 }, ac.signal);
      if (ac.signal.aborted) return;
      runs = res.runs;
      render();
      replace(moreNote, res.more ? 'Older runs exist: narrow the search to find them.' : '');
    } catch (err) {
      if (!ac.signal.aborted) replace(listBox, errorBox(describe(err)));
    }
  }

  function toggle(id: string, on: boolean): void {
    const i = selected.indexOf(id);
    if (on && i < 0) selected.push(id);
    if (!on && i >= 0) selected.splice(i, 1);
    while (selected.length > 2) selected.shift();
    compareBtn.disabled = selected.length !== 2;
    render();
  }

  function render(): void {
    replace(
      listBox,
      table(
        'runs',
        [
          {
            title: '',
            cell: (r: Run) =>
              h('input', { type: 'checkbox', 'aria-label': `select ${r.id} for comparison`, checked: selected.includes(r.id), on: { change: (ev) => toggle(r.id, (ev.target as HTMLInputElement).checked) } }),
          },
          { title: 'run', cell: (r) => [h('a', { href: runHref(r.id), class: 'run-link' }, r.name || r.id), h('div', { class: 'dim small' }, r.id)] },
          { title: 'status', cell: (r) => statusBadge(r) },
          { title: 'target service', cell: (r) => r.target_service },
          { title: 'started', cell: (r) => fmtTime(r.started_ms) },
          { title: 'duration', num: true, cell: (r) => fmtDuration(((r.ended_ms ?? r.last_second_ms ?? r.started_ms) - r.started_ms) / 1000) },
          { title: 'requests', num: true, cell: (r) => fmtCount(r.totals?.requests) },
          { title: 'mean rate', num: true, cell: (r) => fmtRps(r.totals?.rps) },
          { title: 'failures', num: true, cell: (r) => fmtCount(r.totals?.failures) },
          { title: 'error rate', num: true, cell: (r) => fmtPct(r.totals?.error_rate, 3) },
          { title: 'labels', cell: (r) => Object.entries(r.labels ?? {}).map(([k, v]) => h('span', { class: 'label-pill' }, `${k}=${v}`)) },
        ],
        runs,
        app.currentQuery().get('q') ? 'No run matches this search.' : 'No runs yet. Start one with `brink run --hub URL ...`.',
        (r) => ({ run: r.id }),
      ),
    );
  }

  let debounce = 0;
  search.addEventListener('input', () => {
    window.clearTimeout(debounce);
    debounce = window.setTimeout(() => {
      const q = app.currentQuery();
      if (search.value) q.set('q', search.value);
      else q.delete('q');
      app.setQuery(q, false);
      void load();
    }, 200);
  });
  status.addEventListener('change', () => {
    const q = app.currentQuery();
    if (status.value) q.set('status', status.value);
    else q.delete('status');
    app.setQuery(q, false);
    void load();
  });

  // Running runs' figures change every second; refresh the list every 2 s
  // while one is shown, and at once when a run starts or ends.
  let ticks = 0;
  const off = app.stream.subscribe({
    tick: () => {
      ticks++;
      if (ticks % 2 === 0 && runs.some((r) => r.status === 'running')) void load();
    },
    event: (e) => {
      if (e.kind.startsWith('run_')) void load();
    },
  });
  void load();

  return {
    destroy() {
      off();
      abort?.abort();
      window.clearTimeout(debounce);
    },
    onQuery() {
      const q = app.currentQuery();
      search.value = q.get('q') ?? '';
      status.value = q.get('status') ?? '';
      void load();
    },
  };
}
