// The dashboard in a real headless Chromium against a real veil and ClickHouse.
//
// Seeds two weeks of data with `veil-bench seed` (its goals, funnel and pairs are
// declared in the configuration written here), sends a few live beacons, opens
// /dashboard/example.com, enters the API key, and checks that the panels show the
// numbers ClickHouse holds: the KPIs and top pages, a filter chip (a source: the
// pages card then shows the page*source pair's numbers for it; cards without a
// stored pair say so), a page filter with its entries, the goal card
// (completions, converting visitors, conversion rates, revenue, per source), the
// funnel (visits and drop-off per step), a comparison with the previous period
// (overlay and changes), the CSV download buttons (each file is the API's CSV
// of the card's query), the Polish UI on a phone-sized screen, and that the
// strict CSP is never violated. Saves screenshots to target/dashboard-artifacts/.
//
// Environment: VEIL_BIN (the veil binary), VEIL_BENCH_BIN (the veil-bench binary,
// which seeds), VEIL_TEST_CLICKHOUSE_URL (default http://127.0.0.1:18123), CHROMIUM
// (default /usr/bin/chromium).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
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
// sketches; visitors are the sum of each day's unique visitors. Pair values are
// `first\u001fsecond` (see `pair()`).
async function expected(from, to, dim, value) {
  const esc = (s) => s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  const where = `site = '${SITE}' AND dim = '${esc(dim)}' AND value = '${esc(value)}' ` +
    `AND date >= toDate('${from}') AND date <= toDate('${to}')`;
  const closed = `(SELECT date FROM ${DB}.day_close WHERE site = '${SITE}' GROUP BY date HAVING max(state) >= 2)`;
  const cols = ['pageviews', 'visits', 'hits', 'revenue'];
  // Aliases differ from the column names (ClickHouse would read an alias inside
  // the aggregate otherwise).
  const each = (f) => cols.map((c) => `${f(c)} AS x_${c}`).join(', ');
  const out = await clickhouse(
    `SELECT sum(uv), ${cols.map((c) => `sum(x_${c})`).join(', ')} FROM (` +
    `SELECT visitors AS uv, ${each((c) => c)} FROM ${DB}.daily WHERE ${where} AND date IN ${closed} ` +
    `UNION ALL SELECT max(visitors) AS uv, ${each((c) => `max(${c})`)} FROM ${DB}.late_daily ` +
    `WHERE ${where} GROUP BY date, part ` +
    `UNION ALL SELECT uniqCombinedArrayMerge(visitors) AS uv, ${each((c) => `sumMerge(${c})`)} ` +
    `FROM ${DB}.open_aggregates WHERE ${where} AND date NOT IN ${closed} GROUP BY date)`);
  const [visitors, pageviews, visits, hits, revenue] = out.split('\t').map(Number);
  return { pageviews, visitors, visits, hits, revenue };
}

// The stored value of a pair (`page*source`: `pair('/', 'search')`).
const pair = (first, second) => first + '\u001f' + second;
// Rates as the API rounds them (4 decimals).
const rate = (a, b) => Math.round((a / b) * 10000) / 10000;

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

// The goals and funnel `veil-bench seed` generates (tools/src/seed.rs,
// SITE_DECLARATIONS); the pairs are the default ones.
const DECLARATIONS = [
  'goals = [',
  '  { name = "Signup", event = "signup" },',
  '  { name = "Pricing", page = "/pricing" },',
  '  { name = "Purchase", event = "purchase" },',
  ']',
  'funnels = [',
  '  { name = "Checkout", steps = [{ page = "/pricing" }, { event = "signup" }, { event = "purchase" }] },',
  ']',
];

test('the dashboard shows the seeded numbers, filters, goals, funnels and comparisons, and keeps to its CSP', { timeout: 240000 }, async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  const hash = execFileSync(VEIL_BIN, ['hash-key'], { input: KEY + '\n' }).toString().trim();
  const config = path.join(tmp, 'veil.toml');
  fs.writeFileSync(config, [
    '[server]', 'listen = "127.0.0.1:0"',
    '[clickhouse]', `url = "${CH}"`, `database = "${DB}"`,
    '[pipeline]', 'flush_interval_ms = 500',
    '[[sites]]', `id = "${SITE}"`, `timezone = "${TZ}"`, `api_keys = ["${hash}"]`,
    'consent = { preset = "eu-exempt-audience" }', ...DECLARATIONS, '',
  ].join('\n'));
  const seeded = spawnSync(VEIL_BENCH_BIN, ['seed', '-c', config, '--site', SITE, '--days', '14', '--pageviews-per-day', '20000', '--rng-seed', '7'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, VEIL_LOG: 'warn' } });
  const seedLog = seeded.stderr.toString();
  assert.equal(seeded.status, 0, seedLog);
  assert.doesNotMatch(seedLog, /note: the seed writes/, 'the configuration declares what the seed generates');

  let base;
  ({ child: veil, base } = await startVeil(config));
  const authed = { headers: { Authorization: 'Bearer ' + KEY } };
  const siteInfo = await (await fetch(`${base}/api/v1/site?site=${SITE}`, authed)).json();
  assert.deepEqual(siteInfo.goals.map((g) => g.name), ['Signup', 'Pricing', 'Purchase']);
  assert.ok(siteInfo.cross_filters.page.includes('source'));
  const today = siteInfo.today;
  const from = addDays(today, -6);
  // The seeded numbers, before the live beacons below add to them.
  const total = await expected(from, today, 'total', '');
  const home = await expected(from, today, 'page', '/');
  const homeEntries = await expected(from, today, 'entry_page', '/');
  assert.ok(total.pageviews > 100000, `seeded ${total.pageviews} pageviews`);
  // Live beacons for the realtime counter: 3 pageviews by 2 visitors (direct).
  for (const [ua, page] of [['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', '/'],
    ['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', '/pricing'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', '/']]) {
    const r = await fetch(`${base}/p.gif?s=${SITE}&u=${encodeURIComponent(page)}`, { headers: { 'User-Agent': ua, 'Accept-Language': 'en' } });
    assert.equal(r.status, 200);
  }

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
  // The dashboard may have loaded before the live hits were flushed: reload until
  // they are in (the flush interval is half a second).
  for (let i = 0; i < 20 && await kpi('pageviews') !== total.pageviews + 3; i++) {
    await page.waitForTimeout(500);
    await page.click('[data-preset="7d"]');
    await page.waitForFunction(() => document.getElementById('status').textContent === '');
  }
  assert.equal(await page.textContent('#range'), `${from} – ${today}`);
  assert.equal(await kpi('pageviews'), total.pageviews + 3, 'seeded plus live pageviews (flushed within the range)');
  assert.equal(await kpi('visits'), total.visits + 2, 'seeded plus the 2 live visits, counted when they start');
  assert.ok(await kpi('time_on_page') > 0 && await kpi('scroll_depth') > 0, 'engagement KPIs');
  // The top page row is "/" with ClickHouse's numbers (+2 live views of "/"),
  // with its average time on page and scroll depth.
  const firstRow = 'table[data-dimension="page"] tbody tr:first-child';
  await page.waitForSelector(firstRow);
  assert.equal(await page.getAttribute(firstRow, 'data-value'), '/');
  assert.equal(Number(await page.getAttribute(firstRow, 'data-pageviews')), home.pageviews + 2);
  const cells = await page.$$eval(`${firstRow} td.num`, (tds) => tds.map((td) => td.textContent.replace(/\D/g, '')));
  assert.equal(Number(cells[1]), home.pageviews + 2);
  assert.ok(Number(await page.getAttribute(firstRow, 'data-time-on-page')) > 0);
  assert.ok(Number(await page.getAttribute(firstRow, 'data-scroll-depth')) > 0);
  // Small groups appear only as "(other)".
  await page.waitForSelector('table[data-dimension="country"] tr.other');
  // Consent report and realtime counter.
  assert.ok(Number(await page.getAttribute('[data-consent-total]', 'data-consent-total')) > total.pageviews);
  await page.waitForFunction(() => document.getElementById('realtime').dataset.pageviews === '3');
  assert.equal(await page.getAttribute('#realtime', 'data-visitors'), '2');
  assert.match(await page.textContent('#filters'), /click a value in any card to filter/i);
  await page.waitForSelector('#goals tr[data-goal="Signup"]');
  await page.waitForSelector('#funnels li[data-step="3"]');
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(artifacts, 'dashboard.png'), fullPage: true });

  // The live hits are in: from here on, ClickHouse's numbers include them.
  const site = await expected(from, today, 'total', '');
  assert.equal(site.pageviews, total.pageviews + 3);

  // Each table's CSV button downloads the card's query as CSV (fetched with the
  // key, saved through a Blob URL): the file is the API's CSV for that query.
  const csvOf = async (endpoint, query) => {
    const r = await fetch(`${base}/api/v1/${endpoint}?site=${SITE}&from=${from}&to=${today}&${query}&format=csv`, authed);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/csv; charset=utf-8');
    return r.text();
  };
  const downloaded = async (button) => {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
    return { name: dl.suggestedFilename(), text: fs.readFileSync(await dl.path(), 'utf8') };
  };
  assert.equal(await page.getAttribute('#pages button.csv', 'title'), 'Download this table as CSV');
  const pagesCsv = await downloaded('#pages button.csv');
  assert.equal(pagesCsv.name, `${SITE}-breakdown-page-${from}-${today}.csv`);
  assert.equal(pagesCsv.text, await csvOf('breakdown', 'dimension=page&limit=1000'));
  assert.match(pagesCsv.text, /^value,visitors,pageviews,events,time_on_page,scroll_depth,other,groups\r\n\/,/);
  assert.equal(pagesCsv.text.split('\r\n')[1].split(',')[2], String(home.pageviews + 2), 'the top page as the card shows it');
  const goalsCsv = await downloaded('#goals button.csv');
  assert.equal(goalsCsv.name, `${SITE}-goals-${from}-${today}.csv`);
  assert.equal(goalsCsv.text, await csvOf('goals', 'by=source'));
  assert.match(goalsCsv.text, /^goal,source,goal_event,goal_page,suppressed,completions,visitors,conversion_rate,revenue\r\nSignup,,signup,,false,/);
  const trafficCsv = await downloaded('#traffic button.csv');
  assert.equal(trafficCsv.text, await csvOf('timeseries', 'interval=day'));
  assert.equal(trafficCsv.text.trim().split('\r\n').length, 1 + 7, 'a header and 7 days');
  assert.equal((await downloaded('#funnels button.csv')).text, await csvOf('funnels', ''));
  // No CSV for the consent report (not a table endpoint).
  assert.equal(await page.$('#consent button.csv'), null);

  // The goal card: completions, converting visitors and conversion rate of each
  // goal, revenue in EUR, and conversion per source for the chosen goal.
  for (const goal of ['Signup', 'Pricing', 'Purchase']) {
    const want = await expected(from, today, 'goal', goal);
    const row = `#goals tr[data-goal="${goal}"]`;
    assert.equal(await page.getAttribute(row, 'data-suppressed'), 'false', goal);
    assert.equal(Number(await page.getAttribute(row, 'data-completions')), want.hits, `${goal} completions`);
    assert.equal(Number(await page.getAttribute(row, 'data-visitors')), want.visitors, `${goal} converting visitors`);
    assert.equal(Number(await page.getAttribute(row, 'data-rate')), rate(want.visitors, site.visitors), `${goal} conversion rate`);
  }
  const revenue = await expected(from, today, 'goal*currency', pair('Purchase', 'EUR'));
  assert.ok(revenue.revenue > 0);
  assert.equal(await page.getAttribute('#goals tr[data-goal="Purchase"] [data-revenue]', 'data-revenue'), `EUR:${revenue.revenue / 1000}`);
  assert.match(await page.textContent('#goals tr[data-goal="Purchase"] [data-revenue]'), /€/);
  assert.equal(await page.getAttribute('#goals tr[data-goal="Signup"] [data-revenue]', 'data-revenue'), '');
  assert.equal(await page.$eval('#goal-by', (s) => s.value), 'source');
  await page.selectOption('#goal-pick', 'Pricing');
  await page.waitForSelector('table[data-goal-by="source"][data-goal="Pricing"]');
  for (const source of ['search', 'direct']) {
    const want = await expected(from, today, 'source*goal', pair(source, 'Pricing'));
    const base = await expected(from, today, 'source', source);
    const row = `table[data-goal-by="source"] tr[data-value="${source}"]`;
    assert.equal(Number(await page.getAttribute(row, 'data-completions')), want.hits, `Pricing from ${source}`);
    assert.equal(Number(await page.getAttribute(row, 'data-visitors')), want.visitors);
    assert.equal(Number(await page.getAttribute(row, 'data-rate')), rate(want.visitors, base.visitors));
  }
  assert.doesNotMatch(await page.textContent('#goals'), /null/, 'no null written as text');
  await page.selectOption('#goal-by', 'country');
  await page.waitForSelector('table[data-goal-by="country"][data-goal="Pricing"] tr[data-value="PL"]');
  await page.locator('#goals').screenshot({ path: path.join(artifacts, 'goals.png') });

  // The funnel: visits per step, and the visits lost before the next one.
  const steps = [];
  for (const n of [1, 2, 3]) steps.push((await expected(from, today, 'funnel', pair('Checkout', '0' + n))).visits);
  assert.ok(steps[0] > steps[1] && steps[1] > steps[2] && steps[2] > 0, `funnel steps ${steps}`);
  for (const [i, visits] of steps.entries()) {
    const li = `#funnels li[data-step="${i + 1}"]`;
    assert.equal(Number(await page.getAttribute(li, 'data-visits')), visits, `step ${i + 1} visits`);
    assert.equal(await page.getAttribute(li, 'data-dropoff'), i < 2 ? String(visits - steps[i + 1]) : '', `step ${i + 1} drop-off`);
  }
  assert.match(await page.textContent('#funnels li[data-step="2"]'), /Event signup/);
  await page.locator('#funnels').screenshot({ path: path.join(artifacts, 'funnel.png') });

  // A filter chip: a source. The pages card then shows the page*source pair for
  // that source, the KPIs the source's numbers; a card with no stored pair says so.
  await page.click('table[data-dimension="source"] tr[data-value="search"]');
  await page.waitForSelector('#filters .chip[data-filter="source:search"]');
  await page.waitForSelector('table[data-dimension="page"][data-pair="page*source"] tbody tr');
  const search = await expected(from, today, 'source', 'search');
  await page.waitForFunction((n) => Number(document.querySelector('[data-kpi="pageviews"]')?.dataset.value) === n, search.pageviews);
  assert.equal(await kpi('visitors'), search.visitors);
  const pageRows = await page.$$eval('table[data-dimension="page"] tbody tr',
    (trs) => trs.slice(0, 4).map((tr) => [tr.dataset.value, Number(tr.dataset.visitors), Number(tr.dataset.pageviews)]));
  assert.equal(pageRows[0][0], '/');
  for (const [value, visitors, pageviews] of pageRows) {
    const want = await expected(from, today, 'page*source', pair(value, 'search'));
    assert.deepEqual([visitors, pageviews], [want.visitors, want.pageviews], `page ${value} from search`);
  }
  assert.equal(await page.$('table[data-dimension="page"] tr.other'), null, '(other) of the whole pair is not listed');
  assert.match(await page.textContent('#browsers .unavailable'), /not available with this filter/i);
  assert.match(await page.textContent('#devices .unavailable'), /source\*device/);
  assert.match(await page.textContent('#funnels .unavailable'), /not available with this filter/i);
  // The goal card shows the goals of visits from that source.
  const signupSearch = await expected(from, today, 'source*goal', pair('search', 'Signup'));
  await page.waitForFunction((n) => document.querySelector('#goals tr[data-goal="Signup"]')?.dataset.completions === String(n), signupSearch.hits);
  assert.equal(Number(await page.getAttribute('#goals tr[data-goal="Signup"]', 'data-rate')), rate(signupSearch.visitors, search.visitors));
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(artifacts, 'filters.png'), fullPage: true });
  // Removing the chip brings back the unfiltered numbers.
  await page.click('#filters .chip[data-filter="source:search"] .chip-remove');
  await page.waitForSelector('#filters .chip', { state: 'detached' });
  await page.waitForSelector('table[data-dimension="page"]:not([data-pair]) tbody tr');
  assert.equal(await kpi('pageviews'), site.pageviews);
  assert.equal(Number(await page.getAttribute(firstRow, 'data-pageviews')), home.pageviews + 2);
  await page.waitForSelector('table[data-dimension="country"] tr.other');

  // A page filter: the page's numbers and the visits that entered there.
  await page.click(firstRow);
  await page.waitForSelector('#filters .chip[data-filter="page:/"]');
  await page.waitForSelector('[data-kpi="entries"]');
  assert.equal(await kpi('pageviews'), home.pageviews + 2);
  assert.equal(await kpi('entries'), homeEntries.visits + 2, 'both live visits entered on /');
  assert.ok(await page.isVisible('#traffic svg.chart'));
  assert.match(await page.textContent('#campaigns .unavailable'), /page\*utm_campaign/);
  await page.waitForSelector('table[data-dimension="source"][data-pair="page*source"] tr[data-value="direct"]');
  const homeDirect = await expected(from, today, 'page*source', pair('/', 'direct'));
  assert.equal(Number(await page.getAttribute('table[data-dimension="source"] tr[data-value="direct"]', 'data-pageviews')), homeDirect.pageviews);
  await page.screenshot({ path: path.join(artifacts, 'dashboard-page.png') });
  await page.click('#filters .chip-remove');
  await page.waitForSelector('[data-kpi="entries"]', { state: 'detached' });

  // Comparison with the previous 7 days (seeded too): the chart overlays them,
  // the KPIs and goals show the change; then a year earlier (nothing seeded
  // there: the overlay is drawn at zero), then another preset.
  const prev = await expected(addDays(from, -7), addDays(today, -7), 'total', '');
  await page.selectOption('#compare', 'previous');
  await page.waitForSelector('[data-kpi="pageviews"] .delta');
  await page.waitForSelector('#traffic path.line.prev');
  assert.equal(Number(await page.getAttribute('[data-kpi="pageviews"] .delta', 'data-change')), rate(site.pageviews - prev.pageviews, prev.pageviews));
  await page.waitForSelector('#goals tr[data-goal="Signup"] .delta');
  await page.waitForSelector('table[data-dimension="page"] tbody tr:first-child .delta');
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(artifacts, 'compare.png'), fullPage: true });
  await page.selectOption('#compare', 'year');
  await page.waitForFunction(() => !document.querySelector('[data-kpi="pageviews"] .delta'));
  // A flat line at zero has no height: present, not "visible" to playwright.
  await page.waitForSelector('#traffic path.line.prev', { state: 'attached' });
  await page.selectOption('#compare', 'previous');
  await page.waitForSelector('[data-kpi="pageviews"] .delta');
  await page.click('[data-preset="30d"]');
  await page.waitForFunction((f) => document.getElementById('range').textContent.startsWith(f), addDays(today, -29));
  await page.waitForFunction((n) => Number(document.querySelector('[data-kpi="pageviews"]')?.dataset.value) > n, site.pageviews);

  // Polish on a phone-sized screen (the key stays in this tab's sessionStorage),
  // with a filter.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/dashboard/${SITE}?lang=pl`);
  await page.waitForSelector('#pages h2');
  assert.equal(await page.textContent('#pages h2'), 'Najpopularniejsze strony');
  assert.equal(await page.textContent('#goals h2'), 'Cele');
  assert.equal(await page.getAttribute('#goals button.csv', 'aria-label'), 'Pobierz tę tabelę jako CSV');
  await page.waitForSelector('table[data-dimension="source"] tr[data-value="search"]');
  await page.click('table[data-dimension="source"] tr[data-value="search"]');
  await page.waitForSelector('table[data-dimension="page"][data-pair="page*source"]');
  assert.match(await page.textContent('#filters'), /Kanał: search/);
  assert.match(await page.textContent('#browsers .unavailable'), /Niedostępne z tym filtrem/);
  await page.waitForSelector('#goals tr[data-goal="Signup"]');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no horizontal scrolling on a phone (${overflow}px)`);
  await page.screenshot({ path: path.join(artifacts, 'dashboard-pl-phone.png') });

  assert.deepEqual(problems.filter((p) => /Content Security Policy|Refused/.test(p)), [], 'no CSP violation');
  assert.deepEqual(problems, [], 'no console errors');
});
