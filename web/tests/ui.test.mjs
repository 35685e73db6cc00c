// Browser tests of the hub's web UI in Debian's headless Chromium, against a
// real hub fed by a real `brink monitor` (this host and its containers) and
// real `brink run --hub` load tests against the sample target running in
// CPU- and memory-limited containers. Screenshots go to web/test-artifacts/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  World,
  buildBrink,
  buildTargetImage,
  freePort,
  hubGet,
  launchBrowser,
  requireDocker,
  screenshot,
  watchPage,
} from './harness.mjs';

// Container labels are attacker-controlled: this one names a service.
const xss = '<img src=x onerror=window.__xss=1>';
// dockerd is shared with other test suites, so every name here is unique to
// this run (the hub's port) and other containers on the host are tolerated.
let svc;
let evilSvc;
const viewport = { width: 1600, height: 1000 };

// fmtTime is how the UI writes an instant (local time, to the second).
function fmtTime(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

let world;
let hub;
let bin;
let image;
let browser;
let targetPorts;
let urls;
const runIds = {};

function runLoad(label, args) {
  const proc = world.start(label, bin, ['run', '--hub', hub, ...args]);
  return proc;
}

// A quick-mode run is named after its URL, and each run here has its own
// target port, so the URL finds it.
async function waitRunId(url) {
  return world.waitFor(`the run against ${url} in the hub`, async () => {
    const { runs } = await hubGet(hub, `/api/v1/runs?q=${encodeURIComponent(url)}`);
    return runs.find((r) => r.name === url)?.id;
  });
}

// runPath opens a run with the test service below the load: the run's own target
// service when it reported one, else chosen in the URL as a person would.
function runPath(run) {
  const q = run.target_service ? '' : `?service=${encodeURIComponent(svc)}`;
  return `/runs/${encodeURIComponent(run.id)}${q}`;
}

async function waitRunDone(id) {
  return world.waitFor(
    `run ${id} to finish`,
    async () => {
      const r = await hubGet(hub, `/api/v1/runs/${encodeURIComponent(id)}`);
      return r.status !== 'running' ? r : null;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
}

before(async () => {
  await requireDocker();
  world = new World('ui');
  bin = await buildBrink(world);
  image = await buildTargetImage(world, 'brink-target:uitest');
  const hubPort = await freePort();
  hub = `http://127.0.0.1:${hubPort}`;
  world.start('hub', bin, ['hub', '--listen', `127.0.0.1:${hubPort}`, '--data', join(world.tmp, 'data')], { daemon: true });
  await world.waitFor('the hub to answer', () => hubGet(hub, '/api/v1/status'));

  targetPorts = [await freePort(), await freePort(), await freePort()];
  const limits = ['--cpus', '0.5', '--memory', '256m'];
  svc = `ui-web-${hubPort}`;
  evilSvc = `${xss} ${hubPort}`;
  await world.runContainer(`brink-ui-web-1-${hubPort}`, image, [...limits, '--label', `brink.service=${svc}`], ['--listen', `127.0.0.1:${targetPorts[0]}`, '--cpu', '1ms', '--failure-rate', '0.01']);
  await world.runContainer(`brink-ui-web-2-${hubPort}`, image, [...limits, '--label', `brink.service=${svc}`], ['--listen', `127.0.0.1:${targetPorts[1]}`, '--cpu', '1ms', '--failure-rate', '0.01']);
  await world.runContainer(`brink-ui-xss-${hubPort}`, image, ['--memory', '64m', '--label', `brink.service=${evilSvc}`], ['--listen', `127.0.0.1:${targetPorts[2]}`]);

  const monitorPort = await freePort();
  world.start(
    'monitor',
    bin,
    ['monitor', '--listen', `127.0.0.1:${monitorPort}`, '--interval', '1s', '--hostname', 'ui-host', '--remote-write', `${hub}/api/v1/write`],
    { daemon: true },
  );
  await world.waitFor(
    `both replicas of service ${svc} in the hub`,
    async () => (await hubGet(hub, '/api/v1/services')).services.find((s) => s.service === svc && s.replicas === 2),
    { timeoutMs: 90_000 },
  );

  // Run A against the first replica, finished before the pages are looked at.
  urls = targetPorts.map((p) => `http://127.0.0.1:${p}/`);
  const a = runLoad('run-a', ['--url', urls[0], '--vus', '8', '--duration', '12s']);
  runIds.a = await waitRunId(urls[0]);
  await waitRunDone(runIds.a);
  await a.done;
  browser = await launchBrowser(world);
});

after(async () => {
  await browser?.close();
  await world?.close();
});

async function openPage(path) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems = watchPage(page);
  await page.goto(`${hub}${path}`);
  return { page, problems, context };
}

async function legendValues(page, panelId) {
  return page.$$eval(`[data-panel="${panelId}"] table.legend tbody tr`, (rows) =>
    rows.map((r) => ({ series: r.children[1].textContent, value: r.children[2].textContent })),
  );
}

async function waitPanelSeries(page, panelId, min = 1) {
  await page.waitForFunction(
    ([id, n]) => document.querySelectorAll(`[data-panel="${id}"] table.legend tbody tr`).length >= n,
    [panelId, min],
    { timeout: 30_000 },
  );
}

async function assertNoXSS(page) {
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'the XSS payload ran');
  assert.equal(await page.locator('img').count(), 0, 'an <img> element was created from data');
}

test('cluster page shows this host, both replicas and their service with exact numbers; XSS label stays text', async () => {
  const { page, problems, context } = await openPage('/');
  await page.waitForSelector('[data-table="hosts"] tr[data-host]', { timeout: 30_000 });
  const hostRow = page.locator('[data-table="hosts"] tr[data-host]').first();
  assert.match(await hostRow.innerText(), /\d\.\d{4} cores/);

  const web = page.locator(`[data-table="services"] tr[data-service="${svc}"]`);
  await web.waitFor();
  const webCells = await web.locator('td').allInnerTexts();
  assert.equal(webCells[1], '2', `replicas of web: ${webCells.join(' | ')}`);
  assert.match(webCells[4], /^1\.0000 cores$/, 'two 0.5-core limits sum to 1 core');
  assert.match(webCells[6], /^512\.00 MiB$/, 'two 256 MiB limits sum to 512 MiB');

  // The payload is shown as the literal text it is, in the services table and the container table.
  const evil = page.locator('[data-table="services"] tbody tr').filter({ hasText: evilSvc });
  await evil.waitFor();
  assert.equal((await evil.locator('td').first().innerText()).trim(), evilSvc);
  assert.ok((await page.locator('[data-table="containers"]').innerText()).includes(evilSvc));

  for (const id of ['host-cpu', 'host-memory', 'container-cpu', 'container-memory']) {
    await waitPanelSeries(page, id);
    assert.ok(await page.locator(`[data-panel="${id}"] canvas`).count(), `${id} has a canvas`);
  }
  const cpu = await legendValues(page, 'container-cpu');
  assert.ok(cpu.some((s) => s.series.startsWith('brink-ui-web-1')), JSON.stringify(cpu));

  // Live: the range and the tables follow the hub's clock without a reload.
  const before = await page.locator('.range-text').innerText();
  const instantBefore = await page.locator('.instant').innerText();
  await page.waitForFunction((t) => document.querySelector('.range-text')?.textContent !== t, before, { timeout: 10_000 });
  await page.waitForFunction((t) => document.querySelector('.instant')?.textContent !== t, instantBefore, { timeout: 10_000 });

  // Pause freezes the range into the URL; scrubbing back shows the tables at that second.
  await page.locator('.live-toggle').click();
  assert.equal(await page.locator('.live-toggle').innerText(), '❚❚ paused');
  const paused = new URL(page.url()).searchParams;
  const pausedTo = Number(paused.get('to'));
  assert.ok(paused.has('from') && pausedTo > 0, `paused URL ${page.url()}`);
  const frozen = await page.locator('.range-text').innerText();
  await page.waitForTimeout(2500);
  assert.equal(await page.locator('.range-text').innerText(), frozen, 'a paused range does not move');
  const back = pausedTo - 20;
  await page.locator('.scrubber').evaluate((el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, back);
  const hubAt = await hubGet(hub, `/api/v1/hosts?time=${back}`);
  await page.waitForFunction((t) => document.querySelector('.instant')?.textContent === t, fmtTime(hubAt.time_ms));
  assert.equal(new URL(page.url()).searchParams.get('at'), String(back));

  await screenshot(page, 'cluster');
  await assertNoXSS(page);
  assert.deepEqual(problems, []);
  await context.close();
});

test('a running run updates live on its page and ends without a reload', async () => {
  const b = runLoad('run-b', ['--url', urls[1], '--vus', '16', '--duration', '15s']);
  runIds.b = await waitRunId(urls[1]);
  const { page, problems, context } = await openPage(runPath(await hubGet(hub, `/api/v1/runs/${encodeURIComponent(runIds.b)}`)));
  await waitPanelSeries(page, 'rps');
  await page.waitForSelector('.badge.status-running');
  assert.equal(await page.locator('.live-toggle').innerText(), '● live');
  assert.match(await page.locator('.pin-text').innerText(), /^live since \d\d:\d\d:\d\d$/);
  const tile = page.locator('[data-tile="requests"] .tile-value');
  const first = await tile.innerText();
  await page.waitForFunction((t) => document.querySelector('[data-tile="requests"] .tile-value')?.textContent !== t, first, { timeout: 15_000 });
  await page.waitForSelector('[data-tile="now: rate"]', { timeout: 10_000 });
  await screenshot(page, 'run-live');
  await page.waitForSelector('.badge.status-finished', { timeout: 60_000 });
  await b.done;
  assert.equal(b.exited.code, 0, `brink run exited ${b.exited.code}`);
  assert.deepEqual(problems, []);
  await context.close();
});

test('run page: load and the target service on one time axis; hover, zoom, pin, table and export', async () => {
  const run = await hubGet(hub, `/api/v1/runs/${encodeURIComponent(runIds.a)}`);
  const { page, problems, context } = await openPage(runPath(run));
  for (const id of ['rps', 'latency', 'failures', 'vus', 'container-cpu', 'container-throttling', 'container-memory', 'replicas', 'host-cpu']) {
    await waitPanelSeries(page, id);
  }
  assert.equal(await page.locator('[data-tile="requests"] .tile-value').innerText(), run.totals.requests.toLocaleString('en-US'));
  const cpu = await legendValues(page, 'container-cpu');
  assert.ok(cpu.some((s) => s.series.endsWith('limit') && s.value === '0.5000 cores'), `CPU limits: ${JSON.stringify(cpu)}`);
  assert.equal(cpu.filter((s) => s.series === 'all replicas (sum)').length, 1, `service sum: ${JSON.stringify(cpu)}`);
  const mem = await legendValues(page, 'container-memory');
  assert.ok(mem.some((s) => s.series.endsWith('limit') && s.value === '256.00 MiB'), `memory limits: ${JSON.stringify(mem)}`);
  assert.equal(await page.locator('[data-table="events"] tr[data-kind="run_started"]').count(), 1);
  await page.waitForSelector('[data-table="window-latency"] table');

  // Hover the middle of the run: every panel's cursor moves to the same
  // second (synced) and the legend shows the stored value at that second.
  const over = page.locator('[data-panel="rps"] .u-over');
  const box = await over.boundingBox();
  const startX = Math.floor(run.started_ms / 1000);
  const endX = Math.ceil(run.ended_ms / 1000);
  const range = await page.evaluate(() => new URLSearchParams(location.search).toString());
  const viewFrom = startX - 15;
  const viewTo = endX + 15;
  const frac = (startX + 6 - viewFrom) / (viewTo - viewFrom);
  await page.mouse.move(box.x + box.width * frac, box.y + box.height / 2);
  const at = page.locator('[data-panel="rps"] .cursor-at');
  await page.waitForFunction(() => document.querySelector('[data-panel="rps"] .cursor-at')?.dataset.mode === 'at cursor');
  const x = Number(await at.getAttribute('data-x'));
  assert.ok(x >= startX && x <= endX, `hovered second ${x} inside the run ${startX}..${endX} (url ${range})`);
  assert.equal(await page.locator('[data-panel="container-cpu"] .cursor-at').getAttribute('data-x'), String(x), 'cursor synced to the container panel');
  const shown = await legendValues(page, 'rps');
  const q = await hubGet(hub, `/api/v1/query?query=${encodeURIComponent(`sum by (name) (irate(brink_requests_total{run="${runIds.a}"}[2s]))`)}&time=${x}`);
  assert.equal(q.result.length, 1);
  const exact = Number(q.result[0].value[1]);
  assert.equal(shown[0].value, `${exact.toLocaleString('en-US', { maximumFractionDigits: 2 })} req/s`, `legend at ${x}`);
  // The service's sum is the sum of its replicas at the hovered second.
  const cores = (text) => Number(text.replace(' cores', ''));
  const atCursor = await legendValues(page, 'container-cpu');
  const sum = atCursor.find((s) => s.series === 'all replicas (sum)');
  const replicas = atCursor.filter((s) => s.series.startsWith('brink-ui-web-') && !s.series.endsWith('limit'));
  assert.equal(replicas.length, 2, JSON.stringify(atCursor));
  assert.ok(Math.abs(cores(sum.value) - replicas.reduce((a, s) => a + (s.value === '–' ? 0 : cores(s.value)), 0)) <= 2e-4, JSON.stringify(atCursor));
  await screenshot(page, 'run-hover');

  // Drag to zoom: every chart, the URL and the time bar take the new range.
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => new URLSearchParams(location.search).has('from'));
  const url = new URL(page.url());
  const from = Number(url.searchParams.get('from'));
  const to = Number(url.searchParams.get('to'));
  assert.ok(from > viewFrom && to < viewTo && to - from < (viewTo - viewFrom) * 0.5, `zoomed to ${from}..${to} from ${viewFrom}..${viewTo}`);
  assert.equal(await page.locator('.live-toggle').innerText(), '❚❚ paused');
  // Every chart, load and containers alike, shows the zoomed range.
  await page.waitForFunction(
    ([f, t]) => [...document.querySelectorAll('[data-panel]')].every((p) => p.dataset.xmin === String(f) && p.dataset.xmax === String(t)),
    [from, to],
  );
  assert.equal(await page.locator('a', { hasText: 'cluster in this range' }).getAttribute('href'), `/?from=${from}&to=${to}`);
  await page.waitForFunction((f) => document.querySelector('.range-text')?.textContent?.includes('(') && new URLSearchParams(location.search).get('from') === String(f), from);

  // Scrub: the slider pins a second; legends show it and the URL keeps it.
  await page.locator('.scrubber').evaluate((el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, from + 3);
  await page.mouse.move(0, 0);
  await page.waitForFunction((v) => document.querySelector('[data-panel="rps"] .cursor-at')?.dataset.x === String(v), from + 3);
  assert.equal(new URL(page.url()).searchParams.get('at'), String(from + 3));
  assert.match(await page.locator('.pin-text').innerText(), /pinned/);

  // The table view lists every point; export links give CSV and JSON.
  await page.locator('[data-panel="rps"] button', { hasText: 'table' }).click();
  assert.ok((await page.locator('[data-panel="rps"] .series-table tbody tr').count()) >= to - from);
  const csvHref = await page.locator('[data-panel="rps"] a', { hasText: 'csv' }).getAttribute('href');
  const csv = await fetch(`${hub}${csvHref}`);
  assert.equal(csv.status, 200);
  assert.match(await csv.text(), /^timestamp,/);
  const jsonHref = await page.locator('[data-panel="container-memory"] a', { hasText: 'json' }).getAttribute('href');
  const exported = await (await fetch(`${hub}${jsonHref}`)).json();
  assert.ok(exported.series.length >= 1, 'memory export has series');

  // Back returns to the range before the zoom.
  await page.goBack();
  await page.waitForFunction(() => !new URLSearchParams(location.search).has('at'));
  await screenshot(page, 'run');
  assert.deepEqual(problems, []);
  await context.close();
});

test('runs list is searchable and compare overlays two runs on relative time', async () => {
  const { page, problems, context } = await openPage('/runs');
  await page.waitForSelector(`[data-table="runs"] tr[data-run="${runIds.a}"]`);
  assert.equal(await page.locator('[data-table="runs"] tbody tr').count(), 2);
  await page.locator('input.search').fill(String(targetPorts[1]));
  await page.waitForFunction(() => document.querySelectorAll('[data-table="runs"] tbody tr').length === 1);
  assert.equal(await page.locator(`[data-table="runs"] tr[data-run="${runIds.b}"]`).count(), 1);
  await page.locator('input.search').fill('no such run anywhere');
  await page.waitForSelector('.empty-note');
  await page.locator('input.search').fill('');
  await page.waitForFunction(() => document.querySelectorAll('[data-table="runs"] tbody tr').length === 2);
  await page.locator(`tr[data-run="${runIds.a}"] input[type=checkbox]`).check();
  await page.locator(`tr[data-run="${runIds.b}"] input[type=checkbox]`).check();
  await page.locator('button', { hasText: 'Compare selected' }).click();
  await page.waitForURL(/\/compare\?/);
  await page.waitForSelector('[data-table="compare"]');
  for (const id of ['rps', 'p95', 'p99', 'failures', 'vus']) await waitPanelSeries(page, id, 2);
  const rps = await legendValues(page, 'rps');
  assert.deepEqual(
    rps.map((s) => s.series),
    [`A: ${urls[0]}`, `B: ${urls[1]}`],
  );
  // Runs that named no target service are compared on a service chosen in the URL.
  if (!(await hubGet(hub, `/api/v1/runs/${encodeURIComponent(runIds.a)}`)).target_service) {
    await page.goto(`${page.url()}&service=${encodeURIComponent(svc)}`);
  }
  await waitPanelSeries(page, 'service-cpu', 4);
  await waitPanelSeries(page, 'replicas', 2);
  const requests = await page.locator('[data-table="compare"] tr', { hasText: 'requests' }).locator('td').allInnerTexts();
  const [ra, rb] = await Promise.all([runIds.a, runIds.b].map((id) => hubGet(hub, `/api/v1/runs/${encodeURIComponent(id)}`)));
  assert.deepEqual(requests.slice(0, 2), [ra.totals.requests.toLocaleString('en-US'), rb.totals.requests.toLocaleString('en-US')]);
  // Drag zooms every chart of the comparison; reset returns to both whole runs.
  const xmax = () => page.locator('[data-panel="p95"]').getAttribute('data-xmax');
  const whole = await xmax();
  const over = page.locator('[data-panel="rps"] .u-over');
  const box = await over.boundingBox();
  await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  const reset = page.locator('button', { hasText: 'reset zoom' });
  await reset.waitFor();
  await page.waitForFunction((t) => document.querySelector('[data-panel="p95"]')?.dataset.xmax !== t, whole);
  assert.ok(Number(await xmax()) < Number(whole), `zoomed to ..${await xmax()} from ..${whole}`);
  await screenshot(page, 'compare-zoomed');
  await reset.click();
  await page.waitForFunction((t) => document.querySelector('[data-panel="p95"]')?.dataset.xmax === t, whole);
  assert.ok(await reset.isHidden());
  await screenshot(page, 'compare');
  assert.deepEqual(problems, []);
  await context.close();
});

test('a run without a target service asks for one; an unknown run and an unknown page say so', async () => {
  const run = await hubGet(hub, `/api/v1/runs/${encodeURIComponent(runIds.a)}`);
  const { page, context } = await openPage(`/runs/${encodeURIComponent(run.id)}`);
  await waitPanelSeries(page, 'rps');
  if (run.target_service) {
    await waitPanelSeries(page, 'container-cpu');
  } else {
    await page.waitForFunction(() => document.querySelector('[data-panel="container-cpu"] .panel-status')?.textContent === 'no service chosen: pick one above');
    assert.equal(await page.locator('[data-panel="container-cpu"] table.legend tbody tr').count(), 0);
    await page.locator('.service-head select').selectOption(svc);
    await waitPanelSeries(page, 'container-cpu', 2);
    assert.equal(new URL(page.url()).searchParams.get('service'), svc);
  }
  await page.goto(`${hub}/runs/no-such-run`);
  await page.waitForSelector('.error-box');
  assert.match(await page.locator('.error-box').innerText(), /no-such-run|not found/i);
  await page.goto(`${hub}/no/such/page`);
  await page.waitForSelector('.empty h2');
  assert.equal(await page.locator('.empty h2').innerText(), 'Not found');
  await context.close();
});

// The analysis' offered load as the UI writes it (web/src/knee.ts).
function offeredText(k) {
  const n = k.offered.toLocaleString('en-US', { maximumFractionDigits: Math.abs(k.offered) >= 100 ? 0 : 1 });
  return `${n} ${k.offered_unit}`;
}

test('runs driven past their capacity: the run page shows the analysis and marks the knee on every chart; compare shows both knees', async () => {
  // Two replicas that spend 2 ms of CPU per request under a 0.5-core
  // limit (about 250 req/s each), each driven in turn by a ramped
  // arrival-rate run from 20/s to 600/s: the first names its target
  // service (--service), the second does not (quick mode as it is).
  const port = new URL(hub).port;
  const kneeSvc = `ui-knee-${port}`;
  const ports = [await freePort(), await freePort()];
  for (const [i, p] of ports.entries()) {
    await world.runContainer(`brink-ui-knee-${i + 1}-${port}`, image, ['--cpus', '0.5', '--memory', '256m', '--label', `brink.service=${kneeSvc}`], ['--listen', `127.0.0.1:${p}`, '--cpu', '2ms']);
  }
  await world.waitFor(
    `both replicas of service ${kneeSvc} in the hub`,
    async () => (await hubGet(hub, '/api/v1/services')).services.find((s) => s.service === kneeSvc && s.replicas === 2),
    { timeoutMs: 90_000 },
  );
  const kneeUrls = ports.map((p) => `http://127.0.0.1:${p}/`);
  const ids = [];
  const ended = [];
  for (const [i, u] of kneeUrls.entries()) {
    const service = i === 0 ? ['--service', kneeSvc] : [];
    const proc = runLoad(`run-knee-${i + 1}`, ['--url', u, '--rate', '20/s', '--ramp', '16s:600', '--vus', '300', ...service]);
    ids.push(await waitRunId(u));
    ended.push(await waitRunDone(ids[i]));
    await proc.done;
  }
  // The hub analyzes a run a few seconds after it ended and keeps the result with it.
  const kept = await Promise.all(
    ids.map((id) => world.waitFor(`the analysis kept with run ${id}`, async () => (await hubGet(hub, `/api/v1/runs/${encodeURIComponent(id)}`)).analysis, { timeoutMs: 60_000 })),
  );
  for (const a of kept) {
    console.log(`analysis of ${a.run}: ${a.headline}`);
    assert.ok(a.final && a.kept, JSON.stringify(a));
    assert.ok(a.knee, `no knee in a run offered 600/s against about 250 req/s: ${a.headline}`);
  }
  assert.equal(kept[0].target_service, kneeSvc);
  assert.equal(kept[1].target_service, '');
  const knee = kept[0].knee;

  // The run page of the first run shows the analysis the hub kept.
  const { page, problems, context } = await openPage(`/runs/${encodeURIComponent(ids[0])}`);
  const box = page.locator('.analysis[data-analysis="knee"]');
  await box.waitFor({ timeout: 30_000 });
  assert.equal(await box.getAttribute('data-final'), 'true');
  assert.equal(await box.locator('.analysis-headline').innerText(), kept[0].headline);
  // On a host this busy the load may fall short from its first seconds:
  // then the tile says "saturated throughout at" instead of "knee load".
  assert.equal(await box.locator('.tile.knee .tile-label').textContent(), knee.saturated_throughout ? 'saturated throughout at' : 'knee load');
  assert.equal(await box.locator('.tile.knee .tile-value').innerText(), offeredText(knee));
  assert.equal(await box.locator('[data-tile="good throughput there"] .tile-value').innerText(), `${knee.throughput_rps.toLocaleString('en-US', { maximumFractionDigits: 2 })} req/s`);
  // The verdict names a resource of the target service or its host, never the generator.
  const limit = await box.locator('.limit-text').getAttribute('data-limit');
  assert.ok(['target_cpu', 'host_cpu'].includes(limit), `limit ${limit}: ${await box.locator('.limit-text').innerText()}`);
  assert.ok((await box.locator('table.knee-findings tr[data-resource="target_cpu"]').count()) >= 1, 'the target containers are among the evidence');
  assert.ok((await box.locator('table.knee-signals tbody tr').count()) >= 1);

  // Every chart, load and containers alike, marks the knee where the hub's
  // knee event is, drawn unlike the run's start and end.
  for (const id of ['rps', 'latency', 'failures', 'vus', 'container-cpu', 'container-throttling', 'container-memory', 'replicas', 'host-cpu']) {
    await waitPanelSeries(page, id);
  }
  const kneeAt = String(knee.unix + 1);
  await page.waitForFunction(
    (t) => {
      const panels = [...document.querySelectorAll('[data-panel]')];
      return panels.length > 0 && panels.every((p) => p.querySelectorAll(`.marker-flag[data-kind="knee"][data-t="${t}"]`).length === 1);
    },
    kneeAt,
    { timeout: 30_000 },
  );
  const flag = page.locator('[data-panel="rps"] .marker-flag[data-kind="knee"]');
  assert.equal(await flag.getAttribute('class'), 'marker-flag strong');
  assert.equal(await flag.getAttribute('title'), kept[0].headline);
  assert.equal(await page.locator('[data-panel="rps"] .marker-flag[data-kind="run_started"]').getAttribute('class'), 'marker-flag');
  const events = await hubGet(hub, `/api/v1/events?kind=knee&run=${encodeURIComponent(ids[0])}`);
  assert.equal(events.events.length, 1);
  assert.equal(events.events[0].time_ms, (knee.unix + 1) * 1000);
  assert.equal(events.events[0].message, kept[0].headline);
  await page.waitForSelector('[data-table="events"] tr[data-kind="knee"]');
  // "pin the knee" pins that second on every chart.
  await box.locator('a', { hasText: 'pin the knee' }).click();
  await page.waitForFunction((t) => new URLSearchParams(location.search).get('at') === t, kneeAt);
  await screenshot(page, 'run-knee');
  assert.deepEqual(problems, []);
  await context.close();

  // Compare: each run's knee in the table and on the relative time axis
  // (the second run, which named no service, looked at the chosen one).
  const cmp = await openPage(`/compare?a=${encodeURIComponent(ids[0])}&b=${encodeURIComponent(ids[1])}&service=${encodeURIComponent(kneeSvc)}`);
  await cmp.page.waitForSelector('[data-table="compare"] tr[data-row="knee"]');
  const kneeCells = await cmp.page.locator('[data-table="compare"] tr[data-row="knee"] td').allInnerTexts();
  assert.deepEqual(kneeCells.slice(0, 2), kept.map((a) => offeredText(a.knee)));
  for (const slot of ['a', 'b']) assert.match(await cmp.page.locator(`[data-headline="${slot}"]`).innerText(), new RegExp(`^${slot.toUpperCase()}\\s+(knee at|saturated throughout at) `));
  await waitPanelSeries(cmp.page, 'rps', 2);
  const relative = kept.map((a, i) => String(a.knee.unix + 1 - Math.floor(ended[i].started_ms / 1000))).sort();
  await cmp.page.waitForFunction(
    (want) => JSON.stringify([...document.querySelectorAll('[data-panel="rps"] .marker-flag[data-kind="knee"]')].map((f) => f.dataset.t).sort()) === JSON.stringify(want),
    relative,
    { timeout: 30_000 },
  );
  await screenshot(cmp.page, 'compare-knee');
  assert.deepEqual(cmp.problems, []);
  await cmp.context.close();
});
