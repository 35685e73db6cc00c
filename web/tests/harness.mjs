// The world the browser tests run against: the real brink binary built from
// this checkout, a real hub on a free loopback port with a temporary data
// directory, a real monitor remote-writing this host's containers to it,
// real target containers with CPU and memory limits, real load runs, and
// Debian's Chromium driven by playwright-core.

import { spawn, execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, openSync, closeSync, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);

export const webDir = dirname(dirname(fileURLToPath(import.meta.url)));
export const repoRoot = dirname(webDir);
export const artifacts = join(webDir, 'test-artifacts');

export const setupHint = 'run `bash scripts/setup.sh` (dockerd, Chromium) and retry';

// sh runs a command and returns its stdout; a failure says which command
// failed and shows its stderr.
export async function sh(cmd, args, opts = {}) {
  try {
    const { stdout } = await run(cmd, args, { maxBuffer: 64 << 20, ...opts });
    return stdout;
  } catch (err) {
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// waitFor polls fn until it returns a truthy value or the deadline passes.
// Deadlines are generous: the machine is shared with other test suites.
export async function waitFor(what, fn, { timeoutMs = 60_000, intervalMs = 250 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      if (err.fatal) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

// World owns every process, container and temporary directory a test run
// starts, and tears them all down (by pid and by container id) at the end.
export class World {
  constructor(name) {
    this.name = name;
    this.tmp = mkdtempSync(join(tmpdir(), `brink-ui-${name}-`));
    this.procs = [];
    this.containers = [];
    this.logDir = join(artifacts, 'logs');
    mkdirSync(this.logDir, { recursive: true });
  }

  // start launches a process with its output in a log file. A daemon (hub,
  // monitor) must stay up: waitFor fails at once, with its log, if it exits.
  start(label, cmd, args, { daemon = false, env = {} } = {}) {
    const logPath = join(this.logDir, `${this.name}-${label}.log`);
    const fd = openSync(logPath, 'w');
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    closeSync(fd);
    const proc = { label, child, logPath, exited: null, daemon };
    proc.done = new Promise((resolve) => child.once('exit', (code, signal) => resolve((proc.exited = { code, signal }))));
    this.procs.push(proc);
    return proc;
  }

  // waitFor is the module's waitFor that also fails as soon as a daemon died.
  async waitFor(what, fn, opts) {
    return waitFor(
      what,
      async () => {
        this.assertDaemons();
        return fn();
      },
      opts,
    );
  }

  assertDaemons() {
    for (const p of this.procs) {
      if (p.daemon && p.exited) {
        const log = readFileSync(p.logPath, 'utf8').split('\n').slice(-20).join('\n');
        const err = new Error(`${p.label} exited (${JSON.stringify(p.exited)}); last lines of ${p.logPath}:\n${log}`);
        err.fatal = true;
        throw err;
      }
    }
  }

  async docker(args) {
    return (await sh('docker', args)).trim();
  }

  // runContainer starts a container on the host network (servers bind
  // 127.0.0.1; nothing leaves loopback).
  async runContainer(name, image, dockerArgs, cmdArgs = []) {
    await sh('docker', ['rm', '-f', name]).catch(() => undefined);
    const id = await this.docker(['run', '-d', '--network', 'host', '--name', name, ...dockerArgs, image, ...cmdArgs]);
    this.containers.push(id);
    return id;
  }

  async close() {
    for (const p of this.procs.reverse()) {
      if (p.exited) continue;
      p.child.kill('SIGTERM');
      const stopped = await Promise.race([p.done, sleep(15_000).then(() => null)]);
      if (!stopped) {
        p.child.kill('SIGKILL');
        await p.done;
      }
    }
    if (this.containers.length) await sh('docker', ['rm', '-f', ...this.containers]).catch(() => undefined);
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

export async function requireDocker() {
  try {
    await sh('docker', ['info', '--format', '{{.ServerVersion}}']);
  } catch (err) {
    throw new Error(`dockerd is not reachable (${err.message.split('\n')[0]}): ${setupHint}`);
  }
}

export async function buildBrink(world) {
  if (!existsSync(join(repoRoot, 'internal/web/dist/index.html'))) {
    throw new Error('the UI is not built (internal/web/dist/index.html is missing): run `npm run build` in web/');
  }
  const bin = join(world.tmp, 'brink');
  await sh('go', ['build', '-o', bin, './cmd/brink'], { cwd: repoRoot, env: { ...process.env, CGO_ENABLED: '0' } });
  return bin;
}

// buildTargetImage builds the sample target as a FROM scratch image; no
// image can be pulled here, and none is needed.
export async function buildTargetImage(world, tag) {
  const ctx = join(world.tmp, 'target-image');
  mkdirSync(ctx, { recursive: true });
  await sh('go', ['build', '-o', join(ctx, 'brink-target'), './cmd/brink-target'], { cwd: repoRoot, env: { ...process.env, CGO_ENABLED: '0' } });
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY brink-target /brink-target\nENTRYPOINT ["/brink-target"]\n');
  await sh('docker', ['build', '-q', '-t', tag, ctx]);
  return tag;
}

export async function hubGet(base, path) {
  const res = await fetch(`${base}${path}`);
  const body = await res.json();
  if (body.status !== 'success') throw new Error(`${path}: ${res.status} ${body.error}`);
  return body.data;
}

export async function launchBrowser(world) {
  const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`Chromium not found at ${executablePath}: ${setupHint}`);
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
    // playwright-core gives every launch a fresh temporary profile.
    tracesDir: join(world.tmp, 'traces'),
  });
}

// watchPage records console errors, page errors and failed requests, so a
// test can assert that a page produced none.
export function watchPage(page) {
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => {
    // Navigating away cancels the live stream and in-flight queries; that is not a failure of the page.
    const failure = req.failure()?.errorText ?? '';
    if (failure.includes('ERR_ABORTED')) return;
    problems.push(`request failed: ${req.url()} ${failure}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  return problems;
}

export async function screenshot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
