// veil dashboard: one page on top of the stats API (/api/v1). No framework, no
// remote resources; every value from the API is inserted as text, never as HTML.
'use strict';

(function () {
  const body = document.body;
  const SITE = body.dataset.site;
  const PUBLIC = body.dataset.public === 'true';
  const LANG = body.dataset.lang === 'pl' ? 'pl' : 'en';
  const KEY_STORE = 'veil-key:' + SITE;
  const SVG = 'http://www.w3.org/2000/svg';

  const I18N = {
    en: {
      title: 'Statistics', today: 'Today', d7: '7 days', d30: '30 days', custom: 'Custom',
      from: 'From', to: 'To', apply: 'Apply', compare: 'Compare with', cmpNone: 'nothing', cmpPrevious: 'previous period', cmpYear: 'a year earlier',
      key: 'API key', keyHelp: 'Enter a read-only API key for this site. It is kept in this tab only (sessionStorage).',
      signIn: 'Open', badKey: 'This key is not valid for this site.',
      loading: 'Loading…', failed: 'Could not load the statistics: ',
      visitors: 'Visitors', pageviews: 'Pageviews', visits: 'Visits', bounce_rate: 'Bounce rate',
      visit_duration: 'Visit duration', views_per_visit: 'Views per visit', events: 'Events',
      vsPrev: 'vs previous period', vsYear: 'vs a year earlier', chart: 'Traffic', pages: 'Top pages', entry_page: 'Entry pages',
      exit_page: 'Exit pages', sources: 'Sources', source: 'Channels', referrer: 'Referrers',
      campaigns: 'Campaigns', utm_source: 'Source', utm_medium: 'Medium', utm_campaign: 'Campaign',
      locations: 'Locations', country: 'Countries', region: 'Regions', browser: 'Browsers', os: 'Operating systems',
      device: 'Devices', eventsPanel: 'Events', event: 'Events', prop: 'Properties', consent: 'Consent report',
      value: 'Value', none: 'No data in this range.', page: 'Pages',
      other: 'Other (groups under {k} visitors)',
      otherHelp: 'Values seen by fewer than {k} visitors are merged so that nobody can be singled out.',
      realtime: '{v} visitors in the last 5 min · {p} pageviews in the last 30 min',
      back: '← All pages', pageView: 'Page', entries: 'Entries (visits starting here)', exits: 'Exits (visits ending here)',
      smallGroup: 'fewer than {k} visitors — not shown', suppressed: 'under {k} visitors',
      crossNotice: 'Filters across dimensions are not available: veil stores no per-visitor rows, only one-dimensional hourly counts. These panels show the whole site.',
      clickHint: 'Click a page for its own trend, entries and exits.',
      collected: 'Collected', notCollected: 'Not collected',
      marketing: 'Marketing consent', analytics: 'Analytics consent', anonymous: 'Anonymous count only',
      denied: 'Consent denied', gpc: 'Global Privacy Control', dnt: 'Do Not Track', optout: 'Opted out',
      bot: 'Bots', rate_limited: 'Rate limited', invalid: 'Invalid', total: 'Total',
      hits: 'Hits', share: 'Share', seconds: 's',
    },
    pl: {
      title: 'Statystyki', today: 'Dziś', d7: '7 dni', d30: '30 dni', custom: 'Własny zakres',
      from: 'Od', to: 'Do', apply: 'Pokaż', compare: 'Porównaj z', cmpNone: 'niczym', cmpPrevious: 'poprzednim okresem', cmpYear: 'rokiem wcześniej',
      key: 'Klucz API', keyHelp: 'Wpisz klucz API (tylko do odczytu) tej witryny. Jest przechowywany tylko w tej karcie (sessionStorage).',
      signIn: 'Otwórz', badKey: 'Ten klucz nie jest ważny dla tej witryny.',
      loading: 'Wczytywanie…', failed: 'Nie udało się wczytać statystyk: ',
      visitors: 'Odwiedzający', pageviews: 'Odsłony', visits: 'Wizyty', bounce_rate: 'Współczynnik odrzuceń',
      visit_duration: 'Czas wizyty', views_per_visit: 'Odsłony na wizytę', events: 'Zdarzenia',
      vsPrev: 'wobec poprzedniego okresu', vsYear: 'wobec roku wcześniej', chart: 'Ruch', pages: 'Najpopularniejsze strony', entry_page: 'Strony wejścia',
      exit_page: 'Strony wyjścia', sources: 'Źródła', source: 'Kanały', referrer: 'Strony odsyłające',
      campaigns: 'Kampanie', utm_source: 'Źródło', utm_medium: 'Medium', utm_campaign: 'Kampania',
      locations: 'Lokalizacje', country: 'Kraje', region: 'Regiony', browser: 'Przeglądarki', os: 'Systemy operacyjne',
      device: 'Urządzenia', eventsPanel: 'Zdarzenia', event: 'Zdarzenia', prop: 'Właściwości', consent: 'Raport zgód',
      value: 'Wartość', none: 'Brak danych w tym zakresie.', page: 'Strony',
      other: 'Inne (grupy poniżej {k} odwiedzających)',
      otherHelp: 'Wartości widziane przez mniej niż {k} odwiedzających są łączone, aby nikogo nie dało się wyróżnić.',
      realtime: '{v} odwiedzających w ostatnich 5 min · {p} odsłon w ostatnich 30 min',
      back: '← Wszystkie strony', pageView: 'Strona', entries: 'Wejścia (wizyty zaczęte tutaj)', exits: 'Wyjścia (wizyty zakończone tutaj)',
      smallGroup: 'mniej niż {k} odwiedzających — nie pokazano', suppressed: 'poniżej {k} odwiedzających',
      crossNotice: 'Filtrowanie między wymiarami jest niedostępne: veil nie przechowuje danych o pojedynczych odwiedzających, tylko jednowymiarowe liczniki godzinowe. Te panele pokazują całą witrynę.',
      clickHint: 'Kliknij stronę, aby zobaczyć jej trend, wejścia i wyjścia.',
      collected: 'Zebrane', notCollected: 'Niezebrane',
      marketing: 'Zgoda marketingowa', analytics: 'Zgoda analityczna', anonymous: 'Tylko anonimowe zliczenie',
      denied: 'Odmowa zgody', gpc: 'Global Privacy Control', dnt: 'Do Not Track', optout: 'Rezygnacja (opt-out)',
      bot: 'Boty', rate_limited: 'Limit zapytań', invalid: 'Nieprawidłowe', total: 'Razem',
      hits: 'Trafienia', share: 'Udział', seconds: 's',
    },
  };
  const T = I18N[LANG];
  const t = (key, vars) => {
    let s = T[key] || key;
    for (const [k, v] of Object.entries(vars || {})) s = s.split('{' + k + '}').join(String(v));
    return s;
  };
  const nf = new Intl.NumberFormat(LANG === 'pl' ? 'pl-PL' : 'en-GB');
  const pf = new Intl.NumberFormat(LANG === 'pl' ? 'pl-PL' : 'en-GB', { style: 'percent', maximumFractionDigits: 1 });
  const df = new Intl.NumberFormat(LANG === 'pl' ? 'pl-PL' : 'en-GB', { maximumFractionDigits: 2 });

  // ---- DOM helpers ------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    for (const c of children.flat()) if (c) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }
  const $ = (id) => document.getElementById(id);

  // ---- formatting -------------------------------------------------------------
  function fmt(metric, v) {
    if (v === null || v === undefined) return '—';
    if (metric === 'bounce_rate') return pf.format(v);
    if (metric === 'visit_duration') {
      const m = Math.floor(v / 60), sec = Math.round(v % 60);
      return m > 0 ? m + ' min ' + sec + ' ' + t('seconds') : sec + ' ' + t('seconds');
    }
    if (metric === 'views_per_visit') return df.format(v);
    return nf.format(v);
  }

  // ---- dates (local dates of the site, as strings) --------------------------------
  const dayMs = 86400000;
  const parse = (d) => Date.UTC(+d.slice(0, 4), +d.slice(5, 7) - 1, +d.slice(8, 10));
  const iso = (ms) => new Date(ms).toISOString().slice(0, 10);
  const addDays = (d, n) => iso(parse(d) + n * dayMs);
  const spanDays = (a, b) => Math.round((parse(b) - parse(a)) / dayMs) + 1;

  // ---- state ----------------------------------------------------------------
  const state = {
    key: sessionStorage.getItem(KEY_STORE),
    today: null, k: 5, preset: '7d', from: null, to: null, compare: '', page: null, metric: 'visitors',
    tabs: {}, timer: null, gen: 0,
  };

  class AuthError extends Error {}

  async function api(endpoint, params) {
    const qs = new URLSearchParams({ site: SITE, ...params });
    const headers = {};
    if (state.key) headers.Authorization = 'Bearer ' + state.key;
    const r = await fetch('/api/v1/' + endpoint + '?' + qs.toString(), { headers });
    if (r.status === 401) throw new AuthError(t('badKey'));
    const j = await r.json().catch(() => ({ error: r.statusText }));
    if (!r.ok) {
      const e = new Error(j.error || r.statusText);
      e.status = r.status;
      throw e;
    }
    return j;
  }

  // ---- login ------------------------------------------------------------------
  function showLogin(message) {
    $('app').hidden = true;
    $('controls').hidden = true;
    const box = $('login');
    box.hidden = false;
    box.replaceChildren();
    const input = h('input', { id: 'key', type: 'password', autocomplete: 'off', required: true, 'aria-describedby': 'keyhelp' });
    box.append(
      h('form', {
        onsubmit: (e) => {
          e.preventDefault();
          state.key = input.value.trim();
          sessionStorage.setItem(KEY_STORE, state.key);
          start();
        },
      },
      h('label', { for: 'key' }, t('key')), input,
      h('button', { type: 'submit' }, t('signIn')),
      h('p', { id: 'keyhelp', class: 'muted' }, t('keyHelp')),
      message ? h('p', { class: 'error', role: 'alert' }, message) : null),
    );
    input.focus();
  }

  // ---- controls ------------------------------------------------------------------
  function rangeFor(preset) {
    if (preset === 'today') return [state.today, state.today];
    if (preset === '30d') return [addDays(state.today, -29), state.today];
    return [addDays(state.today, -6), state.today];
  }

  function interval() {
    const n = spanDays(state.from, state.to);
    if (n === 1) return 'hour';
    if (n > 730) return 'month';
    if (n > 92) return 'week';
    return 'day';
  }

  function renderControls() {
    const c = $('controls');
    c.hidden = false;
    c.replaceChildren();
    const presets = h('div', { class: 'presets', role: 'group' });
    for (const p of ['today', '7d', '30d', 'custom']) {
      presets.append(h('button', {
        type: 'button', 'data-preset': p, 'aria-pressed': String(state.preset === p),
        onclick: () => {
          state.preset = p;
          if (p !== 'custom') [state.from, state.to] = rangeFor(p);
          renderControls();
          if (p !== 'custom') load();
        },
      }, t(p === '7d' ? 'd7' : p === '30d' ? 'd30' : p)));
    }
    c.append(presets);
    if (state.preset === 'custom') {
      const from = h('input', { type: 'date', id: 'from', value: state.from, max: state.today });
      const to = h('input', { type: 'date', id: 'to', value: state.to, max: state.today });
      c.append(h('form', {
        class: 'custom',
        onsubmit: (e) => {
          e.preventDefault();
          if (!from.value || !to.value) return;
          [state.from, state.to] = from.value <= to.value ? [from.value, to.value] : [to.value, from.value];
          load();
        },
      }, h('label', { for: 'from' }, t('from')), from, h('label', { for: 'to' }, t('to')), to,
      h('button', { type: 'submit' }, t('apply'))));
    }
    // The comparison: the period before, or the same dates a year earlier.
    const cmp = h('select', { id: 'compare' },
      ...[['', 'cmpNone'], ['previous', 'cmpPrevious'], ['year', 'cmpYear']].map(([v, label]) =>
        h('option', { value: v, selected: state.compare === v ? '' : null }, t(label))));
    cmp.addEventListener('change', () => { state.compare = cmp.value; load(); });
    c.append(h('label', { class: 'compare', for: 'compare' }, t('compare'), ' ', cmp));
    c.append(h('span', { class: 'range muted', id: 'range' }, state.from + ' – ' + state.to));
  }

  // ---- panels -----------------------------------------------------------------------
  function card(id, title, ...content) {
    return h('section', { class: 'card', id }, h('h2', {}, title), ...content);
  }

  function kpis(agg) {
    const grid = h('div', { class: 'kpis' });
    const metrics = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration', 'events'];
    for (const m of metrics) {
      const v = agg.metrics[m];
      let delta = null;
      if (agg.change && agg.change[m] !== null && agg.change[m] !== undefined) {
        const c = agg.change[m];
        const good = m === 'bounce_rate' ? c < 0 : c > 0;
        delta = h('span', { class: 'delta ' + (c === 0 ? '' : good ? 'up' : 'down'), title: t(agg.comparison === 'year' ? 'vsYear' : 'vsPrev') },
          (c > 0 ? '▲ ' : c < 0 ? '▼ ' : '') + pf.format(Math.abs(c)));
      }
      const chartable = ['visitors', 'visits', 'pageviews', 'events'].includes(m);
      grid.append(h(chartable ? 'button' : 'div', {
        type: chartable ? 'button' : null,
        class: 'kpi' + (state.metric === m ? ' active' : ''), 'data-kpi': m, 'data-value': v === null ? '' : v,
        onclick: chartable ? () => { state.metric = m; render(state.last); } : null,
      }, h('span', { class: 'label' }, t(m)), h('span', { class: 'value' }, fmt(m, v)), delta));
    }
    return grid;
  }

  function chart(series, metric, k) {
    const W = window.innerWidth < 600 ? 440 : 800, H = 220, L = 48, R = 22, TOP = 12, B = 28;
    const buckets = series.buckets;
    const prev = series.previous || null;
    const val = (b) => (b && !b.suppressed && typeof b[metric] === 'number' ? b[metric] : null);
    const all = buckets.map(val).concat(prev ? prev.map(val) : []).filter((v) => v !== null);
    const max = Math.max(1, ...all);
    const n = Math.max(1, buckets.length - 1);
    const x = (i) => L + (i / n) * (W - L - R);
    const y = (v) => TOP + (1 - v / max) * (H - TOP - B);
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': t(metric) });
    for (let g = 0; g <= 4; g++) {
      const v = (max * g) / 4;
      svg.append(s('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }));
      svg.append(s('text', { x: L - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, nf.format(Math.round(v))));
    }
    const line = (arr, cls) => {
      let d = '';
      let pen = false;
      arr.forEach((b, i) => {
        const v = val(b);
        if (v === null) { pen = false; return; }
        d += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1) + ' ';
        pen = true;
      });
      if (d) svg.append(s('path', { d, class: cls }));
    };
    if (buckets.length > 1) {
      const first = buckets.findIndex((b) => val(b) !== null);
      if (first >= 0 && buckets.every((b) => val(b) !== null)) {
        const area = 'M' + x(0) + ' ' + y(0) + ' ' + buckets.map((b, i) => 'L' + x(i).toFixed(1) + ' ' + y(val(b)).toFixed(1)).join(' ') +
          ' L' + x(buckets.length - 1) + ' ' + y(0) + ' Z';
        svg.append(s('path', { d: area, class: 'area' }));
      }
    }
    if (prev) line(prev, 'line prev');
    line(buckets, 'line');
    const every = Math.max(1, Math.ceil(buckets.length / 8));
    buckets.forEach((b, i) => {
      const v = val(b);
      if (i % every === 0) {
        const label = series.interval === 'hour' ? b.label.slice(11) : b.label.slice(5);
        svg.append(s('text', { x: x(i), y: H - 8, class: 'axis', 'text-anchor': 'middle' }, label));
      }
      const dot = s('circle', { cx: x(i), cy: v === null ? y(0) : y(v), r: buckets.length > 60 ? 1.5 : 3, class: v === null ? 'dot hidden-value' : 'dot' });
      dot.append(s('title', {}, b.label + ': ' + (b.suppressed ? t('suppressed', { k }) : fmt(metric, v))));
      svg.append(dot);
    });
    return svg;
  }

  function table(dim, data, opts) {
    const o = opts || {};
    const metric = data.sort;
    const rows = data.rows;
    if (!rows.length && !data.other) return h('p', { class: 'muted' }, t('none'));
    const max = Math.max(1, ...rows.map((r) => r[metric] || 0), data.other ? data.other[metric] || 0 : 0);
    const tb = h('tbody');
    const label = (r) => (dim === 'prop' ? r.event + ' · ' + r.key + ' = ' + r.value : r.value);
    for (const r of rows) {
      const bar = h('span', { class: 'bar' });
      bar.style.width = ((100 * (r[metric] || 0)) / max).toFixed(1) + '%';
      const name = h('td', { class: 'name' }, bar, h('span', { class: 'text' }, label(r)));
      const tr = h('tr', { 'data-value': r.value }, name,
        h('td', { class: 'num' }, fmt('visitors', r.visitors)),
        metric !== 'visitors' ? h('td', { class: 'num' }, fmt(metric, r[metric])) : null);
      if (o.onclick) {
        tr.classList.add('clickable');
        tr.tabIndex = 0;
        tr.addEventListener('click', () => o.onclick(r.value));
        tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') o.onclick(r.value); });
      }
      tb.append(tr);
    }
    if (data.other) {
      const r = data.other;
      tb.append(h('tr', { class: 'other', title: t('otherHelp', { k: data.k }) },
        h('td', { class: 'name' }, h('span', { class: 'text' }, t('other', { k: data.k }))),
        h('td', { class: 'num' }, fmt('visitors', r.visitors)),
        metric !== 'visitors' ? h('td', { class: 'num' }, fmt(metric, r[metric])) : null));
    }
    return h('table', { class: 'rows', 'data-dimension': dim },
      h('thead', {}, h('tr', {}, h('th', {}, t('value')), h('th', { class: 'num' }, t('visitors')),
        metric !== 'visitors' ? h('th', { class: 'num' }, t(metric)) : null)), tb);
  }

  // A card with tabs over several dimensions; each tab loads its breakdown.
  function tabbed(id, title, dims, opts) {
    const o = opts || {};
    const body = h('div', { class: 'tab-body' });
    const bar = h('div', { class: 'tabs', role: 'tablist' });
    const current = state.tabs[id] && dims.includes(state.tabs[id]) ? state.tabs[id] : dims[0];
    const show = async (dim) => {
      state.tabs[id] = dim;
      for (const b of bar.children) b.setAttribute('aria-selected', String(b.dataset.dim === dim));
      body.replaceChildren(h('p', { class: 'muted' }, t('loading')));
      const gen = state.gen;
      try {
        const data = await api('breakdown', { from: state.from, to: state.to, dimension: dim, limit: o.limit || 10 });
        if (gen === state.gen) body.replaceChildren(table(dim, data, { onclick: o.onclick && dim === 'page' ? o.onclick : null }));
      } catch (e) {
        if (gen === state.gen) body.replaceChildren(h('p', { class: 'error' }, e.message));
      }
    };
    if (dims.length > 1) {
      for (const d of dims) bar.append(h('button', { type: 'button', role: 'tab', 'data-dim': d, onclick: () => show(d) }, t(d)));
    }
    const notice = state.page ? h('p', { class: 'notice' }, t('crossNotice')) : null;
    const hint = o.hint ? h('p', { class: 'muted hint' }, o.hint) : null;
    show(current);
    return card(id, title, notice, dims.length > 1 ? bar : null, body, hint);
  }

  function consentCard(c) {
    const collected = ['marketing', 'analytics', 'anonymous'];
    const not = ['denied', 'gpc', 'dnt', 'optout', 'bot', 'rate_limited', 'invalid'];
    const total = Math.max(1, c.total);
    const group = (title, keys) => {
      const tb = h('tbody');
      for (const k of keys) {
        const bar = h('span', { class: 'bar' });
        bar.style.width = ((100 * c.decisions[k]) / total).toFixed(1) + '%';
        tb.append(h('tr', { 'data-decision': k }, h('td', { class: 'name' }, bar, h('span', { class: 'text' }, t(k))),
          h('td', { class: 'num' }, fmt('hits', c.decisions[k])), h('td', { class: 'num' }, pf.format(c.decisions[k] / total))));
      }
      return h('table', { class: 'rows' }, h('thead', {}, h('tr', {}, h('th', {}, title), h('th', { class: 'num' }, t('hits')),
        h('th', { class: 'num' }, t('share')))), tb);
    };
    return card('consent', t('consent'), group(t('collected'), collected), group(t('notCollected'), not),
      h('p', { class: 'muted' }, t('total') + ': ', h('span', { 'data-consent-total': c.total }, fmt('hits', c.total))));
  }

  async function pageCard(page) {
    const wrap = card('page-view', t('pageView') + ': ' + page,
      h('button', { type: 'button', class: 'back', onclick: () => { state.page = null; render(state.last); } }, t('back')));
    wrap.classList.add('wide');
    const gen = state.gen;
    const filterFor = (dim) => ({ from: state.from, to: state.to, filter: dim + ':' + page });
    const small = h('p', { class: 'muted' }, t('smallGroup', { k: state.k }));
    const safe = (p) => p.catch((e) => (e.status === 404 ? null : Promise.reject(e)));
    try {
      const cmp = state.compare ? { compare: state.compare } : {};
      const [agg, series, entry, exit] = await Promise.all([
        safe(api('aggregate', { ...filterFor('page'), ...cmp })),
        safe(api('timeseries', { ...filterFor('page'), interval: interval(), ...cmp })),
        safe(api('aggregate', filterFor('entry_page'))),
        safe(api('aggregate', filterFor('exit_page'))),
      ]);
      if (gen !== state.gen) return wrap;
      if (!agg) {
        wrap.append(small);
        return wrap;
      }
      const tiles = h('div', { class: 'kpis' });
      const tile = (key, label, v, metric) => h('div', { class: 'kpi', 'data-page-kpi': key, 'data-value': v === null || v === undefined ? '' : v },
        h('span', { class: 'label' }, label), h('span', { class: 'value' }, v === undefined ? '—' : fmt(metric, v)));
      tiles.append(tile('visitors', t('visitors'), agg.metrics.visitors, 'visitors'));
      tiles.append(tile('pageviews', t('pageviews'), agg.metrics.pageviews, 'pageviews'));
      tiles.append(tile('entries', t('entries'), entry ? entry.metrics.visits : null, 'visits'));
      tiles.append(tile('entry_bounce', t('bounce_rate'), entry ? entry.metrics.bounce_rate : null, 'bounce_rate'));
      tiles.append(tile('exits', t('exits'), exit ? exit.metrics.visits : null, 'visits'));
      wrap.append(tiles);
      if (!entry || !exit) wrap.append(h('p', { class: 'muted' }, t('entries') + ' / ' + t('exits') + ': ' + t('smallGroup', { k: state.k })));
      if (series) wrap.append(chart(series, 'pageviews', state.k));
    } catch (e) {
      wrap.append(h('p', { class: 'error' }, e.message));
    }
    return wrap;
  }

  // ---- load and render ------------------------------------------------------------
  async function load() {
    state.gen++;
    const gen = state.gen;
    $('status').textContent = t('loading');
    $('range') && ($('range').textContent = state.from + ' – ' + state.to);
    const range = { from: state.from, to: state.to };
    const cmp = state.compare ? { compare: state.compare } : {};
    try {
      const [agg, series, consent] = await Promise.all([
        api('aggregate', { ...range, ...cmp }),
        api('timeseries', { ...range, interval: interval(), ...cmp }),
        api('consent', range),
      ]);
      if (gen !== state.gen) return;
      $('status').textContent = '';
      state.last = { agg, series, consent };
      render(state.last);
    } catch (e) {
      if (e instanceof AuthError) return showLogin(e.message);
      $('status').textContent = t('failed') + e.message;
    }
  }

  async function render(data) {
    state.gen++;
    const app = $('app');
    app.hidden = false;
    app.replaceChildren();
    const openPage = (value) => { state.page = value; render(state.last); window.scrollTo(0, 0); };
    if (state.page) app.append(await pageCard(state.page));
    const chartCard = card('traffic', t('chart') + ' · ' + t(state.metric), kpis(data.agg), chart(data.series, state.metric, state.k));
    chartCard.classList.add('wide');
    app.append(chartCard);
    app.append(tabbed('pages', t('pages'), ['page', 'entry_page', 'exit_page'], { onclick: openPage, hint: t('clickHint') }));
    app.append(tabbed('sources', t('sources'), ['source', 'referrer']));
    app.append(tabbed('campaigns', t('campaigns'), ['utm_campaign', 'utm_source', 'utm_medium']));
    app.append(tabbed('locations', t('locations'), ['country', 'region']));
    app.append(tabbed('browsers', t('browser'), ['browser']));
    app.append(tabbed('systems', t('os'), ['os']));
    app.append(tabbed('devices', t('device'), ['device']));
    app.append(tabbed('events', t('eventsPanel'), ['event', 'prop']));
    app.append(consentCard(data.consent));
  }

  async function realtime() {
    try {
      const r = await api('realtime', {});
      const el = $('realtime');
      el.dataset.visitors = r.last_5_minutes.visitors;
      el.dataset.pageviews = r.last_30_minutes.pageviews;
      el.textContent = t('realtime', { v: nf.format(r.last_5_minutes.visitors), p: nf.format(r.last_30_minutes.pageviews) });
    } catch (e) {
      /* the next poll tries again */
    }
  }

  async function start() {
    if (!PUBLIC && !state.key) return showLogin();
    $('login').hidden = true;
    $('status').textContent = t('loading');
    try {
      const site = await api('site', {});
      state.today = site.today;
      state.k = site.k;
    } catch (e) {
      if (e instanceof AuthError) return showLogin(state.key ? e.message : null);
      $('status').textContent = t('failed') + e.message;
      return;
    }
    [state.from, state.to] = rangeFor(state.preset);
    renderControls();
    load();
    realtime();
    clearInterval(state.timer);
    state.timer = setInterval(realtime, 15000);
  }

  document.title = 'veil · ' + SITE + ' · ' + t('title');
  start();
})();
