// The first run, as scripts/run.sh does it once veil is built: the same
// scripts/lib.sh functions (first_run_prepare: schema, a generated share secret,
// a 30-day dashboard link; first_run_banner: what to do next) with
// veil.example.toml, in a database, port and data directory of this test's own.
// It sends the test pageview with the curl line the banner prints, opens the
// dashboard link it prints, and checks the pageview is on the dashboard and that
// the cards say why they list no value (k-anonymity). Then a link with a fixed
// filter (the chip cannot be removed, what cannot be narrowed to it says so) and
// a link that is not valid (its reason, no key form). Saves first-run.png and
// first-run-filtered.png to target/dashboard-artifacts/.
//
// Environment: VEIL_BIN, VEIL_TEST_CLICKHOUSE_URL, CHROMIUM (see dashboard.test.mjs).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const artifacts = path.join(repo, 'target', 'dashboard-artifacts');
const VEIL_BIN = process.env.VEIL_BIN || path.join(repo, 'target', 'debug', 'veil');
const CH = process.env.VEIL_TEST_CLICKHOUSE_URL || 'http://127.0.0.1:18123';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const DB = `veil_first_${process.pid}_${Date.now() % 1e6}`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-first-run-'));
let veil = null;
let context = null;

after(async () => {
  if (context) await context.close().catch(() => {});
  if (veil && veil.exitCode === null) {
    veil.kill('SIGTERM');
    await new Promise((r) => { veil.once('exit', r); setTimeout(r, 10000); });
  }
  await fetch(CH + '/', { method: 'POST', body: `DROP DATABASE IF EXISTS ${DB}` }).catch(() => {});
  fs.rmSync(tmp, { recursive: true, force: true });
});

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

test('the first run ends on the dashboard, showing the test pageview', { timeout: 180000 }, async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  const port = await freePort();
  const env = {
    ...process.env,
    VEIL_DATA_DIR: tmp,
    VEIL_CLICKHOUSE__URL: CH,
    VEIL_CLICKHOUSE__DATABASE: DB,
    VEIL_SERVER__LISTEN: `127.0.0.1:${port}`,
    VEIL_SPOOL__DIR: path.join(tmp, 'spool'),
    VEIL_PIPELINE__FLUSH_INTERVAL_MS: '1000',
    VEIL_LOG: 'warn',
  };
  delete env.VEIL_SITES__0__SHARE_SECRET;
  delete env.VEIL_CONFIG;
  // What scripts/run.sh runs after `cargo build --release`.
  const script = 'set -euo pipefail; source scripts/lib.sh; first_run_prepare "$0" "$1"; first_run_banner "$1"; ' +
    'exec "$0" serve --config "$1"';
  veil = spawn('bash', ['-c', script, VEIL_BIN, 'veil.example.toml'], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  veil.stdout.on('data', (d) => { out += d.toString(); });
  veil.stderr.on('data', (d) => { err += d.toString(); });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    assert.ok(veil.exitCode === null, `veil exited:\n${out}\n${err}`);
    assert.ok(i < 200, `veil did not start in 20 s:\n${out}\n${err}`);
    const up = await fetch(base + '/health').then((r) => r.ok).catch(() => false);
    if (up && /share=/.test(out)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // The banner: a curl line for the test hit and the dashboard link.
  const lines = out.split('\n');
  const curl = lines[lines.findIndex((l) => l.startsWith('Send a test hit:')) + 1].trim();
  assert.match(curl, /^curl .*\/p\.gif\?s=example\.com/);
  const url = (out.match(/http:\/\/\S+\/dashboard\/example\.com\?share=[A-Za-z0-9_-]+/) || [])[0];
  assert.ok(url, `no dashboard link in:\n${out}`);
  assert.ok(url.startsWith(base + '/'), url);
  assert.match(out, /revoke it: add "[0-9a-f]{16}" to the site's share_revoked/);
  const secret = fs.readFileSync(path.join(tmp, 'share-secret'), 'utf8');
  assert.ok(secret.length >= 32, 'a generated secret');
  assert.equal(fs.statSync(path.join(tmp, 'share-secret')).mode & 0o077, 0, 'only its owner reads the secret');
  assert.doesNotMatch(fs.readFileSync(path.join(repo, 'veil.example.toml'), 'utf8'), new RegExp(secret), 'the config is not changed');

  assert.equal(execFileSync('bash', ['-c', curl], { env }).toString().trim(), '200', curl);

  const profile = fs.mkdtempSync(path.join(tmp, 'chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] || await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));

  const resp = await page.goto(url);
  assert.equal(resp.headers()['referrer-policy'], 'no-referrer');
  assert.match(resp.headers()['content-security-policy'], /frame-ancestors 'none'/);
  // No key is asked for: the link is the credential.
  await page.waitForSelector('[data-kpi="pageviews"]');
  assert.equal(await page.isVisible('#key'), false);
  const kpi = (m) => page.getAttribute(`[data-kpi="${m}"]`, 'data-value').then(Number);
  // veil writes the hit within a flush interval: reload until it is there.
  for (let i = 0; i < 30 && await kpi('pageviews') !== 1; i++) {
    await page.waitForTimeout(500);
    await page.reload();
    await page.waitForSelector('[data-kpi="pageviews"]');
  }
  assert.equal(await kpi('pageviews'), 1, 'the test pageview is on the dashboard');
  assert.equal(await kpi('visitors'), 1);
  assert.match(await page.textContent('.share-note'), /Shared view · read-only · until \d{4}-\d\d-\d\d/);
  // One visitor is below k = 5: the cards list no value, and say why.
  await page.waitForSelector('table[data-dimension="page"] tr.other');
  assert.match(await page.textContent('#pages [data-k-hint]'),
    /fewer than 5 visitors, so all are merged into Other: groups with fewer than 5 visitors are hidden \(k-anonymity\)/);
  await page.waitForSelector('table[data-dimension="source"] tr.other');
  assert.match(await page.textContent('#sources [data-k-hint]'), /k-anonymity/);
  await page.waitForSelector('#goals tr[data-goal="Pricing"][data-suppressed="true"]');
  assert.match(await page.textContent('#goals [data-k-hint]'), /groups with fewer than 5 visitors are hidden/);
  assert.doesNotMatch(await page.textContent('#goals'), /null/);
  await page.waitForFunction(() => document.getElementById('realtime').dataset.pageviews === '1');
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(artifacts, 'first-run.png'), fullPage: true });
  assert.deepEqual(problems, [], 'no console errors');

  // A link with a fixed filter and dates, made the same way (`veil share-link`).
  const filtered = execFileSync(VEIL_BIN, ['share-link', '--config', 'veil.example.toml', '--base-url', base,
    '--filter', 'source:search', '--range', '7d', '--expires', '1d'],
  { cwd: repo, env: { ...env, VEIL_SITES__0__SHARE_SECRET: secret } }).toString().trim();
  await page.goto(filtered + '&lang=pl');
  await page.waitForSelector('#filters .chip.locked[data-filter="source:search"]');
  assert.equal(await page.$('#filters .chip-remove'), null, 'the link’s filter cannot be removed');
  assert.equal(await page.$('[data-preset]'), null, 'the link’s dates are fixed');
  await page.waitForSelector('#goals [data-share-only]');
  assert.match(await page.textContent('#goals'), /Niedostępne przez ten link/);
  assert.match(await page.textContent('#consent'), /Niedostępne przez ten link/);
  // The pageview's group (from search) has 1 visitor, below k: not shown, and said so.
  await page.waitForSelector('#pages [data-k-hint]');
  assert.match(await page.textContent('#pages [data-k-hint]'), /grupy poniżej 5 odwiedzających są ukryte \(k-anonimowość\)/);
  assert.equal(await page.textContent('#realtime'), '', 'no realtime numbers under a filter');
  // The language links keep the link.
  assert.match(await page.getAttribute('.langs a[hreflang="en"]', 'href'), /share=.*lang=en/);
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(artifacts, 'first-run-filtered.png'), fullPage: true });
  // The group below k answers 404 (as for a key), which Chromium reports.
  assert.deepEqual(problems.filter((p) => !/status of 404/.test(p)), [], 'no console errors');

  // A link that is not valid: the reason, and no key form.
  const bad = url.slice(0, -4) + (url.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  await page.goto(bad + '&lang=en');
  await page.waitForFunction(() => /cannot be opened/.test(document.getElementById('status').textContent));
  assert.match(await page.textContent('#status'), /This share link cannot be opened: this share link is not valid for this site/);
  assert.equal(await page.isVisible('#key'), false);
  assert.deepEqual(problems.filter((p) => /Content Security Policy|Refused/.test(p)), [], 'no CSP violation');
});
