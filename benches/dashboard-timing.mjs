// How long the dashboard's 30-day view takes to load in a real headless Chromium,
// against a running veil: run by scripts/stats-bench.sh (see benches/README.md).
//
//   node benches/dashboard-timing.mjs BASE_URL SITE KEY [RUNS]
//
// "Loaded" is what a person waits for: the KPI tiles, the chart and the consent
// card (the dashboard's first three API calls, after which its status line is
// cleared) AND every tabbed card's breakdown (each card's body shows a table, an
// error or "no data" instead of "Loading…"). The dashboard has no explicit
// "ready" signal, so this is read from the DOM, polled every animation frame.
//
// Each run clicks the "30 days" preset with the 7-day view on screen and times
// click → loaded; between runs it goes back to 7 days and waits for that to load,
// so every run is the same warm tab doing the same work. The first cold load
// (navigation to loaded, 7-day default view) is reported once.
//
// playwright-core comes from tests/dashboard/node_modules (scripts/stats-bench.sh
// installs it there from the lock file, as scripts/dashboard-test.sh does).
// Prints key=value lines on stdout.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'tests', 'dashboard', 'package.json'));
const { chromium } = require('playwright-core');

const [base, site, key, runsArg] = process.argv.slice(2);
if (!base || !site || !key) {
  console.error('usage: dashboard-timing.mjs BASE_URL SITE KEY [RUNS]');
  process.exit(2);
}
const RUNS = Number(runsArg || 5);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 120000;

// Runs in the page: true once the view for the range starting at `from` is complete.
// `loading` is the placeholder text of the page's language (lang=en).
function loaded({ from, loading }) {
  const range = document.getElementById('range');
  const status = document.getElementById('status');
  if (!range || !range.textContent.startsWith(from) || (status && status.textContent !== '')) return false;
  if (!document.querySelector('[data-kpi="pageviews"]') || !document.querySelector('[data-consent-total]')) return false;
  const bodies = [...document.querySelectorAll('.tab-body')];
  return bodies.length > 0 && bodies.every((b) => b.textContent !== '' && b.textContent !== loading);
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-dash-timing-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
});
try {
  const page = context.pages()[0] || await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The key as the login form would leave it, so the timing starts with the data.
  await page.addInitScript(([s, k]) => sessionStorage.setItem('veil-key:' + s, k), [site, key]);
  let apiCalls = 0;
  page.on('request', (r) => { if (r.url().includes('/api/v1/') && !r.url().includes('/realtime')) apiCalls++; });

  const siteInfo = await (await fetch(`${base}/api/v1/site?site=${encodeURIComponent(site)}`,
    { headers: { Authorization: 'Bearer ' + key } })).json();
  const today = siteInfo.today;
  const addDays = (d, n) => new Date(Date.parse(d + 'T00:00:00Z') + n * 86400000).toISOString().slice(0, 10);
  const from30 = addDays(today, -29);
  const from7 = addDays(today, -6);
  const wait = (from) => page.waitForFunction(loaded, { from, loading: 'Loading…' }, { polling: 'raf', timeout: TIMEOUT });

  const t0 = performance.now();
  await page.goto(`${base}/dashboard/${encodeURIComponent(site)}?lang=en`);
  await wait(from7);
  const cold = performance.now() - t0;

  const times = [];
  let calls = 0;
  for (let i = 0; i < RUNS; i++) {
    apiCalls = 0;
    const s = performance.now();
    await page.click('[data-preset="30d"]');
    await wait(from30);
    times.push(performance.now() - s);
    calls = apiCalls;
    await page.click('[data-preset="7d"]');
    await wait(from7);
  }
  if (errors.length) throw new Error('page errors: ' + errors.join('; '));
  const sorted = [...times].sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
  const ms = (v) => v.toFixed(0);
  console.log(`dashboard_cold_7d_ms=${ms(cold)}`);
  console.log(`dashboard_30d_runs=${RUNS} dashboard_30d_api_calls=${calls}`);
  console.log(`dashboard_30d_p50_ms=${ms(q(0.5))} dashboard_30d_min_ms=${ms(sorted[0])} dashboard_30d_max_ms=${ms(sorted[sorted.length - 1])}`);
  console.log(`dashboard_30d_all_ms=${times.map(ms).join(',')}`);
} finally {
  await context.close().catch(() => {});
  fs.rmSync(profile, { recursive: true, force: true });
}
