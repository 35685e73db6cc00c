// The agents of a distributed run on its page: the start skew, one row per
// agent (state, load, CPU, seconds produced and held, saturation, whether
// its load was moved), the run's agent timeline, and a Stop button.

import { ApiError, api, stopRun, type Run, type RunAgent, type RunAgents } from '../api';
import type { App } from '../app';
import { h, replace, setText, type Child } from '../dom';
import { fmtCount, fmtMs, fmtTime } from '../format';
import { describe } from '../panels';
import { agentStateBadge, labelPills, loadColumns, versionCell } from './agents';
import { errorBox, table } from './common';

// The token is kept for this browser tab only (sessionStorage), never in
// localStorage or the URL.
const tokenKey = 'brink.hubToken';

// isDistributed tells a run the hub split over agents: the coordinator
// labels every such run with its agent count and loss policy.
export function isDistributed(run: Pick<Run, 'labels'>): boolean {
  const l = run.labels ?? {};
  return 'agents' in l && 'on_agent_loss' in l;
}

const activeStates = new Set(['starting', 'running']);
const settledStates = new Set(['finished', 'aborted']);

export class RunAgentsPanel {
  readonly el: HTMLElement;
  private readonly facts = h('dl', { class: 'facts' });
  private readonly stopBox = h('div', { class: 'stop-box' });
  private readonly rowsBox = h('div', { class: 'table-box', data: { table: 'run-agents' } });
  private readonly eventsBox = h('div', { class: 'table-box', data: { table: 'run-agent-events' } });
  private data: RunAgents | null = null;
  private inFlight: AbortController | null = null;
  private confirming = false;
  private stopping = false;
  private readonly outcome = h('p', { class: 'stop-outcome', role: 'status' });
  private readonly tokenInput: HTMLInputElement;
  private stopKey = ''; // what the stop box shows now (see renderStop)

  constructor(
    private readonly app: App,
    private readonly runId: string,
  ) {
    this.tokenInput = h('input', {
      type: 'password',
      class: 'token-input',
      placeholder: "the hub's token",
      autocomplete: 'off',
      'aria-label': "hub token (kept for this tab only)",
      value: sessionStorage.getItem(tokenKey) ?? '',
    });
    this.el = h(
      'div',
      { class: 'run-agents', data: { runAgents: 'loading' } },
      h('div', { class: 'run-agents-head' }, this.facts, this.stopBox),
      this.rowsBox,
      h('h3', { class: 'sub' }, 'Agent timeline'),
      this.eventsBox,
    );
    replace(this.rowsBox, h('p', { class: 'dim' }, 'loading the agents of this run…'));
  }

  // refresh reads the run's agents again; ticks call it every second until
  // the run has settled, and once more then for the final rows.
  async refresh(): Promise<void> {
    if (this.inFlight) return;
    if (this.data && settledStates.has(this.data.state)) return;
    const ac = new AbortController();
    this.inFlight = ac;
    try {
      const d = await api.runAgents(this.runId, ac.signal);
      if (ac.signal.aborted) return;
      this.data = d;
      this.render();
    } catch (err) {
      if (!ac.signal.aborted) replace(this.rowsBox, errorBox(describe(err)));
    } finally {
      if (this.inFlight === ac) this.inFlight = null;
    }
  }

  destroy(): void {
    this.inFlight?.abort();
  }

  private render(): void {
    const d = this.data;
    if (!d) return;
    this.el.dataset.runAgents = d.state;
    const skew =
      d.start_skew_ms === null ? h('span', { class: 'dim' }, 'not measured yet') : `${fmtMs(d.start_skew_ms)} (clocks agree to ±${fmtMs(d.clock_uncertainty_ms)})`;
    replace(
      this.facts,
      fact('coordinator state', h('span', { class: `badge run-state-${d.state}`, data: { state: d.state } }, d.state)),
      fact('agents', fmtCount(d.agents.length)),
      fact('on agent loss', d.on_agent_loss),
      fact('start skew', h('span', { data: { fact: 'start-skew' } }, skew)),
      d.complete === null ? null : fact('every second held', d.complete ? 'yes' : h('span', { class: 'hot' }, 'no: some seconds never arrived')),
      d.aborted ? fact('aborted', d.abort_reason || 'yes') : null,
    );
    this.renderStop();
    replace(
      this.rowsBox,
      table(
        'run-agents',
        [
          { title: '#', num: true, cell: (a: RunAgent) => fmtCount(a.index) },
          { title: 'agent', cell: (a) => [h('span', { class: 'agent-name' }, a.name), a.hostname && a.hostname !== a.name ? h('div', { class: 'dim small' }, a.hostname) : null] },
          { title: 'state', cell: (a) => agentStateBadge(a) },
          { title: 'labels', cell: (a) => labelPills(a.labels) },
          { title: 'version', cell: (a) => versionCell(a) },
          ...loadColumns<RunAgent>(),
          { title: 'seconds produced', num: true, cell: (a) => fmtCount(a.produced_seconds) },
          { title: 'seconds held', num: true, cell: (a) => fmtCount(a.acked_seconds), hint: 'seconds of this agent the hub stored' },
          { title: 'load moved', cell: (a) => (a.load_moved ? h('span', { class: 'hot' }, 'yes (rebalanced)') : 'no') },
          { title: 'last heard', num: true, cell: (a) => `${fmtCount(a.silent_ms / 1000)} s ago` },
        ],
        d.agents,
        'No agent was picked for this run yet.',
        (a) => ({ agent: a.name, link: a.link, state: a.state }),
      ),
    );
    replace(
      this.eventsBox,
      table(
        'run-agent-events',
        [
          { title: 'time', cell: (e: RunAgents['events'][number]) => fmtTime(e.time_ms) },
          { title: 'kind', cell: (e) => h('span', { class: `ev ev-${e.kind}` }, e.kind) },
          { title: 'agent', cell: (e) => e.agent ?? '' },
          { title: 'message', cell: (e) => e.message },
        ],
        [...d.events].reverse(),
        'Nothing on the agent timeline yet.',
        (e) => ({ kind: e.kind }),
      ),
    );
  }

  private needsToken(): boolean {
    // Unknown (status unread) counts as needed: a token the hub does not
    // ask for is ignored, a missing one is refused.
    return this.app.status?.auth_required !== false;
  }

  private renderStop(): void {
    const d = this.data;
    if (!d) return;
    // The rows refresh every second; rebuilding the stop box with them
    // would take the focus (and what is being typed) from the token input.
    const key = [d.state, d.agents.length, this.confirming, this.stopping, this.needsToken(), this.outcome.textContent !== ''].join('|');
    if (key === this.stopKey) return;
    this.stopKey = key;
    if (!activeStates.has(d.state) && !this.stopping) {
      // The outcome of a stop stays in view after the run ended.
      replace(this.stopBox, this.outcome.textContent ? this.outcome : null);
      return;
    }
    if (!this.confirming) {
      replace(
        this.stopBox,
        h(
          'button',
          {
            class: 'btn danger',
            type: 'button',
            data: { action: 'stop-run' },
            disabled: this.stopping || !activeStates.has(d.state),
            on: { click: () => this.setConfirming(true) },
          },
          this.stopping ? 'Stopping…' : 'Stop run',
        ),
        this.outcome,
      );
      return;
    }
    const parts: Child[] = [h('span', null, `Stop this run on all ${d.agents.length} agents?`)];
    if (this.needsToken()) parts.push(h('label', { class: 'token-label' }, 'token ', this.tokenInput));
    parts.push(
      h('button', { class: 'btn danger', type: 'button', data: { action: 'confirm-stop' }, on: { click: () => void this.stop(false) } }, 'Stop (agents finish their second and deliver)'),
      h('button', { class: 'btn', type: 'button', data: { action: 'confirm-abort' }, on: { click: () => void this.stop(true) } }, 'Abort at once'),
      h('button', { class: 'btn', type: 'button', data: { action: 'cancel-stop' }, on: { click: () => this.setConfirming(false) } }, 'Cancel'),
    );
    replace(this.stopBox, h('div', { class: 'confirm' }, parts), this.outcome);
  }

  private setConfirming(on: boolean): void {
    this.confirming = on;
    if (!on) setText(this.outcome, '');
    this.renderStop();
  }

  private async stop(abort: boolean): Promise<void> {
    const token = this.tokenInput.value.trim();
    if (this.needsToken() && !token) {
      this.showOutcome('bad', "This hub needs its token to stop a run: paste the token from the hub's --token-file.");
      return;
    }
    if (token) sessionStorage.setItem(tokenKey, token);
    this.stopping = true;
    this.confirming = false;
    this.renderStop();
    try {
      await stopRun(this.runId, { abort, token });
      this.showOutcome('ok', abort ? 'Abort sent to every agent: the run ends at once.' : 'Stop sent to every agent: they deliver their last seconds, then the run ends.');
    } catch (err) {
      this.stopping = false;
      this.confirming = true;
      if (err instanceof ApiError && err.httpStatus === 401) {
        sessionStorage.removeItem(tokenKey);
        this.showOutcome('bad', `The hub refused the token: ${err.message}`);
      } else {
        this.showOutcome('bad', `The stop failed: ${describe(err)}`);
      }
      this.renderStop();
      return;
    }
    this.stopping = false;
    this.renderStop();
    void this.refresh();
  }

  private showOutcome(kind: 'ok' | 'bad', text: string): void {
    this.outcome.className = `stop-outcome ${kind}`;
    this.outcome.dataset.outcome = kind;
    setText(this.outcome, text);
  }
}

function fact(term: string, value: Child): Child[] {
  return [h('dt', null, term), h('dd', null, value)];
}
