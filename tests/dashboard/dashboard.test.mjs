// The dashboard in a real headless Chromium against a real veil and ClickHouse.
//
// Seeds two weeks of data with `veil-bench seed`, sends a few live beacons, opens
// /dashboard/example.com, enters the API key, and checks that the panels show the
// numbers ClickHouse holds, that clicking a page opens that page's own view, that
// the Polish UI and a phone-sized layout work, and that the strict CSP is never
// violated. Saves screenshots to target/dashboard-artifacts/.
//
// Environment: VEIL_BIN (the veil binary), VEIL_BENCH_BIN (the veil-bench binary,
// which seeds), VEIL_TEST_CLICKHOUSE_URL (default http://127.0.0.1:18123), CHROMIUM
// (default /usr/bin/chromium).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const artifacts = path.join(repo, 'target', 'dashboard-artifacts');
const VEIL_BIN = process.env.VEIL_BIN || path.join(repo, 'target', 'debug', 'veil');
const VEIL_BENCH_BIN = process.env.VEIL_BENCH_BIN || path.join(repo, 'target', 'debug', 'veil-bench');
const CH = process.env.VEIL_TEST_CLICKHOUSE_URL || 'http://127.0.0.1:18123';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SITE = 'example.com';
const TZ = 'Europe/Warsaw';
const KEY = 'dashboard-test-key-' + process.pid;
const DB = `veil_dash_${process.pid}_${Date.now() % 1e6}`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-dashboard-'));
let veil = null;
let context = null;

after(async () => {
  if (context) await context.close().catch(() => {});
  if (veil && veil.exitCode === null) {
    veil.kill('SIGTERM');
    await new Promise((r) => { veil.once('exit', r); setTimeout(r, 10000); });
  }
  await clickhouse(`DROP DATABASE IF EXISTS ${DB}`).catch(() => {});
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function clickhouse(sql) {
  const r = await fetch(CH + '/', { method: 'POST', body: sql });
  const text = await r.text();
  if (!r.ok) throw new Error(`ClickHouse: ${text}`);
  return text.trim();
}

function addDays(d, n) {
  const ms = Date.UTC(+d.slice(0, 4), +d.slice(5, 7) - 1, +d.slice(8, 10)) + n * 86400000;
  return new Date(ms).toISOString().slice(0, 10);
}

// Metrics of dim/value over local dates [from, to] straight from ClickHouse: closed
// days from their counters, late additions once per batch, open days from their
// sketches; visitors are the sum of each day's unique visitors.
async function expected(from, to, dim, value) {
  const esc = (s) => s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  const where = `site = '${SITE}' AND dim = '${esc(dim)}' AND value = '${esc(value)}' ` +
    `AND date >= toDate('${from}') AND date <= toDate('${to}')`;
  const closed = `(SELECT date FROM ${DB}.day_close WHERE site = '${SITE}' GROUP BY date HAVING max(state) >= 2)`;
  const out = await clickhouse(
    `SELECT sum(pv), sum(uv), sum(vi) FROM (` +
    `SELECT pageviews AS pv, visitors AS uv, visits AS vi FROM ${DB}.daily WHERE ${where} AND date IN ${closed} ` +
    `UNION ALL SELECT max(pageviews) AS pv, max(visitors) AS uv, max(visits) AS vi FROM ${DB}.late_daily ` +
    `WHERE ${where} GROUP BY date, part ` +
    `UNION ALL SELECT sumMerge(pageviews) AS pv, uniqCombinedArrayMerge(visitors) AS uv, sumMerge(visits) AS vi ` +
    `FROM ${DB}.open_aggregates WHERE ${where} AND date NOT IN ${closed} GROUP BY date)`);
  const [pageviews, visitors, visits] = out.split('\t').map(Number);
  return { pageviews, visitors, visits };
}

function startVeil(config) {
  return new Promise((resolve, reject) => {
    const child = spawn(VEIL_BIN, ['-c', config, 'serve'], {
      env: { ...process.env, VEIL_LOG_FORMAT: 'json', VEIL_LOG: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let buf = '';
    const timer = setTimeout(() => reject(new Error('veil did not start in 20 s:\n' + buf)), 20000);
    child.stderr.on('data', (d) => {
      buf += d.toString();
      for (const line of buf.split('\n')) {
        try {
          const j = JSON.parse(line);
          if (j.fields && j.fields.message === 'veil listening') {
            clearTimeout(timer);
            resolve({ child, base: 'http://' + j.fields.addr });
            return;
          }
        } catch { /* not a complete JSON line yet */ }
      }
    });
    child.once('exit', (code) => reject(new Error(`veil exited with ${code}:\n${buf}`)));
  });
}

test('the dashboard shows the seeded numbers, opens a page view, and keeps to its CSP', { timeout: 240000 }, async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  const hash = execFileSync(VEIL_BIN, ['hash-key'], { input: KEY + '\n' }).toString().trim();
  const config = path.join(tmp, 'veil.toml');
  fs.writeFileSync(config, [
    '[server]', 'listen = "127.0.0.1:0"',
    '[clickhouse]', `url = "${CH}"`, `database = "${DB}"`,
    '[pipeline]', 'flush_interval_ms = 500',
    '[[sites]]', `id = "${SITE}"`, `timezone = "${TZ}"`, `api_keys = ["${hash}"]`,
    'consent = { preset = "eu-exempt-audience" }', '',
  ].join('\n'));
  execFileSync(VEIL_BENCH_BIN, ['seed', '-c', config, '--site', SITE, '--days', '14', '--pageviews-per-day', '20000', '--rng-seed', '7'],
    { stdio: ['ignore', 'ignore', 'inherit'] });

  let base;
  ({ child: veil, base } = await startVeil(config));
  // Live beacons for the realtime counter: 3 pageviews by 2 visitors.
  for (const [ua, page] of [['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', '/'],
    ['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', '/pricing'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', '/']]) {
    const r = await fetch(`${base}/p.gif?s=${SITE}&u=${encodeURIComponent(page)}`, { headers: { 'User-Agent': ua } });
    assert.equal(r.status, 200);
  }
  const siteInfo = await (await fetch(`${base}/api/v1/site?site=${SITE}`, { headers: { Authorization: 'Bearer ' + KEY } })).json();
  const today = siteInfo.today;
  const from = addDays(today, -6);
  const total = await expected(from, today, 'total', '');
  const home = await expected(from, today, 'page', '/');
  const homeEntries = await expected(from, today, 'entry_page', '/');
  assert.ok(total.pageviews > 100000, `seeded ${total.pageviews} pageviews`);

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

  const resp = await page.goto(`${base}/dashboard/${SITE}?lang=en`);
  assert.match(resp.headers()['content-security-policy'], /script-src 'self'/);
  // Not public: the key is asked for once and kept in sessionStorage.
  await page.waitForSelector('#key');
  await page.fill('#key', KEY);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('[data-kpi="pageviews"]');
  assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), 'veil-key:' + SITE), KEY);
  assert.equal(await page.evaluate(() => document.cookie), '', 'no cookie is set');

  const kpi = (m) => page.getAttribute(`[data-kpi="${m}"]`, 'data-value').then(Number);
  assert.equal(await page.textContent('#range'), `${from} – ${today}`);
  assert.equal(await kpi('pageviews'), total.pageviews + 3, 'seeded plus live pageviews (flushed within the range)');
  assert.equal(await kpi('visits'), total.visits + 2, 'seeded plus the 2 live visits, counted when they start');
  // The top page row is "/" with ClickHouse's numbers (+2 live views of "/").
  const firstRow = 'table[data-dimension="page"] tbody tr:first-child';
  await page.waitForSelector(firstRow);
  assert.equal(await page.getAttribute(firstRow, 'data-value'), '/');
  const cells = await page.$$eval(`${firstRow} td.num`, (tds) => tds.map((td) => td.textContent.replace(/\D/g, '')));
  assert.equal(Number(cells[1]), home.pageviews + 2);
  // Small groups appear only as "(other)".
  await page.waitForSelector('table[data-dimension="country"] tr.other');
  // Consent report and realtime counter.
  assert.ok(Number(await page.getAttribute('[data-consent-total]', 'data-consent-total')) > total.pageviews);
  await page.waitForFunction(() => document.getElementById('realtime').dataset.pageviews === '3');
  assert.equal(await page.getAttribute('#realtime', 'data-visitors'), '2');
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(artifacts, 'dashboard.png'), fullPage: true });

  // A page row opens that page's own view; other panels say why they are unfiltered.
  await page.click(firstRow);
  await page.waitForSelector('#page-view [data-page-kpi="entries"]');
  const pk = (m) => page.getAttribute(`#page-view [data-page-kpi="${m}"]`, 'data-value').then(Number);
  assert.equal(await pk('pageviews'), home.pageviews + 2);
  assert.equal(await pk('entries'), homeEntries.visits + 2, 'both live visits entered on /');
  assert.ok(await page.isVisible('#page-view svg.chart'));
  const notice = await page.textContent('#sources .notice');
  assert.match(notice, /filters across dimensions are not available: veil stores no per-visitor rows/i);
  await page.screenshot({ path: path.join(artifacts, 'dashboard-page.png') });
  await page.click('#page-view .back');
  await page.waitForSelector('#page-view', { state: 'detached' });

  // Comparison with the previous 7 days (seeded too), then with a year earlier
  // (nothing seeded there: the overlay is drawn at zero), then another preset.
  await page.selectOption('#compare', 'previous');
  await page.waitForSelector('[data-kpi="pageviews"] .delta');
  await page.waitForSelector('#traffic path.line.prev');
  await page.screenshot({ path: path.join(artifacts, 'dashboard-compare.png') });
  await page.selectOption('#compare', 'year');
  await page.waitForFunction(() => !document.querySelector('[data-kpi="pageviews"] .delta'));
  // A flat line at zero has no height: present, not "visible" to playwright.
  await page.waitForSelector('#traffic path.line.prev', { state: 'attached' });
  await page.selectOption('#compare', 'previous');
  await page.waitForSelector('[data-kpi="pageviews"] .delta');
  await page.click('[data-preset="30d"]');
  await page.waitForFunction((f) => document.getElementById('range').textContent.startsWith(f), addDays(today, -29));
  await page.waitForFunction((n) => Number(document.querySelector('[data-kpi="pageviews"]')?.dataset.value) > n, total.pageviews + 3);

  // Polish on a phone-sized screen (the key stays in this tab's sessionStorage).
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/dashboard/${SITE}?lang=pl`);
  await page.waitForSelector('#pages h2');
  assert.equal(await page.textContent('#pages h2'), 'Najpopularniejsze strony');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no horizontal scrolling on a phone (${overflow}px)`);
  await page.waitForSelector('table[data-dimension="page"]');
  await page.screenshot({ path: path.join(artifacts, 'dashboard-pl-phone.png') });

  assert.deepEqual(problems.filter((p) => /Content Security Policy|Refused/.test(p)), [], 'no CSP violation');
  assert.deepEqual(problems, [], 'no console errors');
});
