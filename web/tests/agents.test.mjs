// Browser test of the agents in the hub's web UI: a real hub with a token,
// two real `brink agent` processes dialling in, and a real
// `brink run --hub --agents 2` against the real brink-target (a plain
// process on loopback). The Agents page lists both agents live, the run's
// page shows one row per agent, and its Stop button ends the run.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { World, buildBrink, freePort, hubGet, launchBrowser, repoRoot, screenshot, sh, watchPage } from './harness.mjs';

// Agent labels are written by whoever starts agents: this one must stay text.
const xss = '<img src=x onerror=window.__xss=1>';
const token = 'agents-ui-test-token';
const agentNames = ['ui-agent-1', 'ui-agent-2'];
const viewport = { width: 1600, height: 1000 };

let world;
let hub;
let bin;
let browser;
let targetURL;

before(async () => {
  world = new World('agents');
  bin = await buildBrink(world);
  const targetBin = join(world.tmp, 'brink-target');
  await sh('go', ['build', '-o', targetBin, './cmd/brink-target'], { cwd: repoRoot, env: { ...process.env, CGO_ENABLED: '0' } });
  const tokenFile = join(world.tmp, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });

  const hubPort = await freePort();
  hub = `http://127.0.0.1:${hubPort}`;
  world.start('hub', bin, ['hub', '--listen', `127.0.0.1:${hubPort}`, '--data', join(world.tmp, 'data'), '--token-file', tokenFile], { daemon: true });
  await world.waitFor('the hub to answer', () => hubGet(hub, '/api/v1/status'));

  const targetPort = await freePort();
  targetURL = `http://127.0.0.1:${targetPort}/`;
  world.start('target', targetBin, ['--listen', `127.0.0.1:${targetPort}`], { daemon: true });
  await world.waitFor('the target to answer', async () => (await fetch(targetURL)).ok);

  world.start('agent-1', bin, ['agent', '--hub', hub, '--token-file', tokenFile, '--name', agentNames[0], '--labels', `zone=eu,note=${xss}`, '--work-dir', join(world.tmp, 'a1')], { daemon: true });
  world.start('agent-2', bin, ['agent', '--hub', hub, '--token-file', tokenFile, '--name', agentNames[1], '--labels', 'zone=us', '--work-dir', join(world.tmp, 'a2')], { daemon: true });
  await world.waitFor('both agents connected and idle', async () => {
    const { agents } = await hubGet(hub, '/api/v1/agents');
    return agents.filter((a) => a.link === 'connected' && a.state === 'idle').length === 2;
  });
  browser = await launchBrowser(world);
});

after(async () => {
  await browser?.close();
  await world?.close();
});

// agentRows reads a table of agents as the page shows it, by data-agent.
async function agentRows(page, tableName) {
  return page.$$eval(`[data-table="${tableName}"] table tbody tr`, (rows) =>
    rows.map((r) => {
      const cells = [...r.querySelectorAll('td')];
      const head = [...r.closest('table').querySelectorAll('thead th')].map((th) => th.textContent);
      const byTitle = Object.fromEntries(head.map((t, i) => [t, cells[i]?.textContent ?? '']));
      return { agent: r.dataset.agent, link: r.dataset.link, state: r.dataset.state, cells: byTitle };
    }),
  );
}

test('agents page lists both agents live; a distributed run shows per-agent rows and Stop ends it', async () => {
  const context = await browser.newContext({ viewport });
  const agentsPage = await context.newPage();
  const problems = watchPage(agentsPage);
  await agentsPage.goto(`${hub}/agents`);
  await agentsPage.waitForFunction(() => document.querySelectorAll('[data-table="agents"] tbody tr').length === 2, null, { timeout: 30_000 });

  const api = (await hubGet(hub, '/api/v1/agents')).agents;
  let rows = await agentRows(agentsPage, 'agents');
  assert.deepEqual(rows.map((r) => r.agent), agentNames);
  for (const r of rows) {
    const a = api.find((x) => x.name === r.agent);
    assert.equal(r.link, 'connected');
    assert.equal(r.state, 'idle');
    assert.equal(r.cells.state, 'idle');
    assert.equal(r.cells.version, a.version, 'agent and hub are built from one checkout: the bare version is shown');
    assert.equal(r.cells.cores, String(a.cores));
    assert.match(r.cells.CPU, /^\d+\.\d %$/);
    assert.equal(r.cells.run, 'idle');
  }
  assert.equal(rows[0].cells.labels, `note=${xss}zone=eu`, 'labels shown as text, sorted by key');
  assert.equal(rows[1].cells.labels, 'zone=us');
  assert.equal(await agentsPage.evaluate(() => window.__xss), undefined, 'a label must never run as markup');
  assert.equal(await agentsPage.locator('header a.nav.active').textContent(), 'Agents');
  await screenshot(agentsPage, 'agents-idle');

  // The distributed run: long enough that only Stop ends it within the test.
  const runProc = world.start('run-agents', bin, ['run', '--hub', hub, '--agents', '2', '--url', targetURL, '--vus', '4', '--duration', '120s'], {
    env: { BRINK_HUB_TOKEN: token },
  });
  const runId = await world.waitFor('the distributed run in the hub', async () => {
    const { runs } = await hubGet(hub, `/api/v1/runs?q=${encodeURIComponent(targetURL)}`);
    return runs.find((r) => r.labels?.agents === '2')?.id;
  });
  await world.waitFor('both agents running the run', async () => {
    const d = await hubGet(hub, `/api/v1/runs/${encodeURIComponent(runId)}/agents`);
    return d.state === 'running' && d.agents.length === 2 && d.agents.every((a) => a.state === 'running' && a.produced_seconds >= 2);
  });

  // The open Agents page follows the live stream: both agents turn to
  // running with the run's link, without a reload.
  await agentsPage.waitForFunction(
    (id) => {
      const rows = [...document.querySelectorAll('[data-table="agents"] tbody tr')];
      return rows.length === 2 && rows.every((r) => r.dataset.state === 'running' && r.querySelector('a.run-link')?.textContent === id);
    },
    runId,
    { timeout: 15_000 },
  );
  rows = await agentRows(agentsPage, 'agents');
  for (const r of rows) assert.equal(r.cells.VUs, '2', '4 VUs over 2 agents are 2 + 2');
  // State in colour: running in the page's "ok" green, idle in its text colour.
  // (One evaluation: the table is rebuilt every second.)
  assert.equal(
    await agentsPage.evaluate(() => getComputedStyle(document.querySelector('[data-table="agents"] .badge[data-state="running"]')).color),
    'rgb(62, 207, 142)',
  );
  await screenshot(agentsPage, 'agents-running');

  const runPage = await context.newPage();
  const runProblems = watchPage(runPage);
  await runPage.goto(`${hub}/runs/${encodeURIComponent(runId)}`);
  await runPage.waitForFunction(() => document.querySelectorAll('[data-table="run-agents"] tbody tr').length === 2, null, { timeout: 30_000 });
  const runRows = await agentRows(runPage, 'run-agents');
  assert.deepEqual(runRows.map((r) => r.agent), agentNames);
  assert.deepEqual(runRows.map((r) => r.cells['#']), ['0', '1']);
  for (const r of runRows) {
    assert.equal(r.cells.VUs, '2');
    assert.match(r.cells['seconds produced'], /^\d+$/);
    assert.equal(r.cells['load moved'], 'no');
  }
  const skew = (await hubGet(hub, `/api/v1/runs/${encodeURIComponent(runId)}/agents`)).start_skew_ms;
  assert.notEqual(skew, null, 'the hub measured the start skew');
  await runPage.waitForFunction(() => /ms \(clocks agree to ±/.test(document.querySelector('[data-fact="start-skew"]')?.textContent ?? ''), null, { timeout: 10_000 });
  await runPage.waitForFunction(() => [...document.querySelectorAll('[data-table="run-agent-events"] tbody tr')].some((r) => r.dataset.kind === 'agents_started'), null, { timeout: 10_000 });

  // Stop asks first; the hub has a token, so the token is asked for too.
  await runPage.click('[data-action="stop-run"]');
  await runPage.waitForSelector('[data-action="confirm-stop"]');
  assert.equal(await runPage.locator('.token-input').count(), 1, 'the hub has a token: the confirmation asks for it');
  await runPage.click('[data-action="cancel-stop"]');
  assert.equal(await runPage.locator('[data-action="confirm-stop"]').count(), 0, 'cancel stops nothing');
  assert.equal((await hubGet(hub, `/api/v1/runs/${encodeURIComponent(runId)}`)).status, 'running');

  // A wrong token is refused, and the page says so.
  await runPage.click('[data-action="stop-run"]');
  await runPage.fill('.token-input', 'not-the-token');
  await runPage.click('[data-action="confirm-stop"]');
  await runPage.waitForSelector('.stop-outcome[data-outcome="bad"]');
  assert.match(await runPage.textContent('.stop-outcome'), /refused the token/);
  assert.equal((await hubGet(hub, `/api/v1/runs/${encodeURIComponent(runId)}`)).status, 'running', 'a refused stop stops nothing');

  await runPage.fill('.token-input', token);
  const stopClicked = Date.now();
  await runPage.click('[data-action="confirm-stop"]');
  await runPage.waitForSelector('.stop-outcome[data-outcome="ok"]');
  assert.equal(await runPage.evaluate(() => sessionStorage.getItem('brink.hubToken')), token, 'the token is kept for the tab');
  assert.equal(await runPage.evaluate(() => localStorage.length), 0, 'and nowhere longer-lived');

  const ended = await world.waitFor(
    'the stopped run to end',
    async () => {
      const r = await hubGet(hub, `/api/v1/runs/${encodeURIComponent(runId)}`);
      return r.status === 'finished' || r.status === 'aborted' ? r : null;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  const endedAfterMs = Date.now() - stopClicked;
  console.log(`run ${runId} ${ended.status} ${endedAfterMs} ms after Stop was clicked`);
  assert.ok(endedAfterMs < 30_000);
  // The page follows without a reload: status badge and coordinator state.
  await runPage.waitForFunction(
    () => {
      const s = document.querySelector('.run-head .badge')?.textContent;
      const c = document.querySelector('.run-agents')?.dataset.runAgents;
      return (s === 'finished' || s === 'aborted') && (c === 'finished' || c === 'aborted');
    },
    null,
    { timeout: 20_000 },
  );
  assert.equal(await runPage.locator('[data-action="stop-run"]').count(), 0, 'an ended run has no Stop button');
  await runPage.waitForFunction(() => [...document.querySelectorAll('[data-table="run-agent-events"] tbody tr')].some((r) => r.dataset.kind === 'run_stopping'), null, { timeout: 10_000 });
  await screenshot(runPage, 'run-agents-stopped');

  const exit = await Promise.race([runProc.done, new Promise((r) => setTimeout(() => r(null), 30_000))]);
  assert.notEqual(exit, null, 'brink run ends once its run was stopped');

  // The agents are idle again, on the page that stayed open.
  await agentsPage.waitForFunction(() => [...document.querySelectorAll('[data-table="agents"] tbody tr')].every((r) => r.dataset.state === 'idle' || r.dataset.state === 'done'), null, { timeout: 20_000 });

  // The only HTTP error allowed is the refused stop with the wrong token.
  const refused = runProblems.filter((p) => /^HTTP 401: .*\/stop$/.test(p));
  assert.equal(refused.length, 1, runProblems.join('\n'));
  assert.deepEqual(runProblems.filter((p) => !refused.includes(p) && !(p.startsWith('console:') && p.includes('401'))), []);
  assert.deepEqual(problems, []);
  await context.close();
});
