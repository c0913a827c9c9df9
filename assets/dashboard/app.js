// veil dashboard: one page on top of the stats API (/api/v1). No framework, no
// remote resources; every value from the API is inserted as text, never as HTML.
'use strict';

(function () {
  const body = document.body;
  const SITE = body.dataset.site;
  const PUBLIC = body.dataset.public === 'true';
  const LANG = body.dataset.lang === 'pl' ? 'pl' : 'en';
  // A share link (`?share=TOKEN`): sent as `Authorization: Share`, never stored;
  // the server narrows every answer to the link. Embed links get compact chrome.
  const SHARE = new URLSearchParams(location.search).get('share');
  const EMBED = body.dataset.embed === 'true';
  const KEY_STORE = 'veil-key:' + SITE;
  const SVG = 'http://www.w3.org/2000/svg';

  // Every pair a site may declare (src/model/dim.rs, `PAIRS`): only to name the
  // pair a filter would need; what the site stores comes from /api/v1/site.
  const PAIRS = [
    'page*source', 'page*referrer', 'page*utm_source', 'page*utm_campaign', 'page*country', 'page*device',
    'page*browser', 'page*os', 'entry_page*source', 'entry_page*referrer', 'entry_page*utm_campaign',
    'entry_page*country', 'entry_page*device', 'source*country', 'source*device', 'referrer*country',
    'utm_campaign*country', 'country*device', 'source*goal', 'referrer*goal', 'utm_source*goal', 'utm_medium*goal',
    'utm_campaign*goal', 'entry_page*goal', 'page*goal', 'country*goal', 'device*goal', 'browser*goal',
    'event*source', 'event*utm_campaign', 'event*country', 'event*device', 'event*page', 'event*currency',
    'goal*currency', 'source*currency',
  ];
  // What the goal card can break conversions down by (each needs its `*goal` pair).
  const GOAL_BY = ['source', 'utm_campaign', 'entry_page', 'country', 'device'];

  const I18N = {
    en: {
      title: 'Statistics', today: 'Today', d7: '7 days', d30: '30 days', custom: 'Custom',
      from: 'From', to: 'To', apply: 'Apply', compare: 'Compare with', cmpNone: 'nothing', cmpPrevious: 'previous period', cmpYear: 'a year earlier',
      key: 'API key', keyHelp: 'Enter a read-only API key for this site. It is kept in this tab only (sessionStorage).',
      signIn: 'Open', badKey: 'This key is not valid for this site.',
      loading: 'Loading…', failed: 'Could not load the statistics: ',
      visitors: 'Visitors', pageviews: 'Pageviews', visits: 'Visits', bounce_rate: 'Bounce rate',
      visit_duration: 'Visit duration', views_per_visit: 'Views per visit', events: 'Events',
      time_on_page: 'Time on page', scroll_depth: 'Scroll depth',
      vsPrev: 'vs previous period', vsYear: 'vs a year earlier', chart: 'Traffic', pages: 'Top pages', entry_page: 'Entry pages',
      exit_page: 'Exit pages', sources: 'Sources', source: 'Channels', referrer: 'Referrers',
      campaigns: 'Campaigns', utm_source: 'Source', utm_medium: 'Medium', utm_campaign: 'Campaign',
      locations: 'Locations', country: 'Countries', region: 'Regions', browser: 'Browsers', os: 'Operating systems',
      device: 'Devices', eventsPanel: 'Events', event: 'Events', prop: 'Properties', consent: 'Consent report',
      value: 'Value', none: 'No data in this range.', page: 'Pages',
      other: 'Other (groups under {k} visitors)',
      otherHelp: 'Values seen by fewer than {k} visitors are merged so that nobody can be singled out.',
      noisedHelp: 'Counts carry privacy noise (differential privacy) that stays the same when asked again: rows and (other) need not add up to the total.',
      unlisted: 'Values seen by fewer than {k} visitors are not listed.',
      realtime: '{v} visitors in the last 5 min · {p} pageviews in the last 30 min',
      entries: 'Entries (visits starting here)', exits: 'Exits (visits ending here)',
      smallGroup: 'fewer than {k} visitors — not shown (k-anonymity)', suppressed: 'under {k} visitors',
      filters: 'Filters', filterHint: 'Click a value in any card to filter the dashboard by it.',
      removeFilter: 'Remove the filter {f}', clearFilters: 'Clear all',
      notAvailable: 'Not available with this filter.', needsPair: 'It needs the pair {pair} (the site’s pairs setting).',
      noPair: 'veil cannot store this combination.', oneAtATime: 'Cards can be filtered by one other dimension at a time.',
      f_page: 'Page', f_entry_page: 'Entry page', f_exit_page: 'Exit page', f_source: 'Channel', f_referrer: 'Referrer',
      f_utm_source: 'Campaign source', f_utm_medium: 'Campaign medium', f_utm_campaign: 'Campaign', f_utm_term: 'Campaign term',
      f_utm_content: 'Campaign content', f_country: 'Country', f_region: 'Region', f_browser: 'Browser', f_os: 'Operating system',
      f_device: 'Device', f_event: 'Event', f_goal: 'Goal', f_currency: 'Currency',
      goals: 'Goals', goal: 'Goal', completions: 'Completions', converters: 'Converting visitors',
      conversion_rate: 'Conversion rate', revenue: 'Revenue', noGoals: 'This site declares no goals (the site’s goals setting).',
      convBy: 'Conversion by', forGoal: 'for', showAll: 'Show all {n}', previousNumbers: 'previous: {c} completions, {r}',
      funnels: 'Funnels', noFunnels: 'This site declares no funnels (the site’s funnels setting).',
      stepPage: 'Page {v}', stepEvent: 'Event {v}', stepVisits: '{n} visits', ofFirst: '{p} of step 1',
      dropoff: '{n} ({p}) did not go on', lastStep: 'last step',
      funnelAlone: 'Funnel steps are stored on their own, without the other dimensions.',
      collected: 'Collected', notCollected: 'Not collected',
      marketing: 'Marketing consent', analytics: 'Analytics consent', anonymous: 'Anonymous count only',
      denied: 'Consent denied', gpc: 'Global Privacy Control', dnt: 'Do Not Track', optout: 'Opted out',
      bot: 'Bots', rate_limited: 'Rate limited', invalid: 'Invalid', total: 'Total',
      hits: 'Hits', share: 'Share', seconds: 's',
      csv: 'CSV', downloadCsv: 'Download this table as CSV', downloadFailed: 'Could not download the CSV: ',
      shared: 'Shared view · read-only · until {d}', shareOnly: 'Not available through this share link.',
      badLink: 'This share link cannot be opened: ',
      allOther: 'Every value here was seen by fewer than {k} visitors, so all are merged into Other: groups with fewer than {k} visitors are hidden (k-anonymity).',
      noneShown: 'No group with at least {k} visitors to show: groups with fewer than {k} visitors are hidden (k-anonymity).',
    },
    pl: {
      title: 'Statystyki', today: 'Dziś', d7: '7 dni', d30: '30 dni', custom: 'Własny zakres',
      from: 'Od', to: 'Do', apply: 'Pokaż', compare: 'Porównaj z', cmpNone: 'niczym', cmpPrevious: 'poprzednim okresem', cmpYear: 'rokiem wcześniej',
      key: 'Klucz API', keyHelp: 'Wpisz klucz API (tylko do odczytu) tej witryny. Jest przechowywany tylko w tej karcie (sessionStorage).',
      signIn: 'Otwórz', badKey: 'Ten klucz nie jest ważny dla tej witryny.',
      loading: 'Wczytywanie…', failed: 'Nie udało się wczytać statystyk: ',
      visitors: 'Odwiedzający', pageviews: 'Odsłony', visits: 'Wizyty', bounce_rate: 'Współczynnik odrzuceń',
      visit_duration: 'Czas wizyty', views_per_visit: 'Odsłony na wizytę', events: 'Zdarzenia',
      time_on_page: 'Czas na stronie', scroll_depth: 'Głębokość przewinięcia',
      vsPrev: 'wobec poprzedniego okresu', vsYear: 'wobec roku wcześniej', chart: 'Ruch', pages: 'Najpopularniejsze strony', entry_page: 'Strony wejścia',
      exit_page: 'Strony wyjścia', sources: 'Źródła', source: 'Kanały', referrer: 'Strony odsyłające',
      campaigns: 'Kampanie', utm_source: 'Źródło', utm_medium: 'Medium', utm_campaign: 'Kampania',
      locations: 'Lokalizacje', country: 'Kraje', region: 'Regiony', browser: 'Przeglądarki', os: 'Systemy operacyjne',
      device: 'Urządzenia', eventsPanel: 'Zdarzenia', event: 'Zdarzenia', prop: 'Właściwości', consent: 'Raport zgód',
      value: 'Wartość', none: 'Brak danych w tym zakresie.', page: 'Strony',
      other: 'Inne (grupy poniżej {k} odwiedzających)',
      otherHelp: 'Wartości widziane przez mniej niż {k} odwiedzających są łączone, aby nikogo nie dało się wyróżnić.',
      noisedHelp: 'Liczby zawierają szum chroniący prywatność (prywatność różnicowa), taki sam przy każdym zapytaniu: wiersze i (other) nie muszą sumować się do całości.',
      unlisted: 'Wartości widziane przez mniej niż {k} odwiedzających nie są wymienione.',
      realtime: '{v} odwiedzających w ostatnich 5 min · {p} odsłon w ostatnich 30 min',
      entries: 'Wejścia (wizyty zaczęte tutaj)', exits: 'Wyjścia (wizyty zakończone tutaj)',
      smallGroup: 'mniej niż {k} odwiedzających — nie pokazano (k-anonimowość)', suppressed: 'poniżej {k} odwiedzających',
      filters: 'Filtry', filterHint: 'Kliknij wartość w dowolnym panelu, aby przefiltrować nią cały widok.',
      removeFilter: 'Usuń filtr {f}', clearFilters: 'Wyczyść wszystkie',
      notAvailable: 'Niedostępne z tym filtrem.', needsPair: 'Wymaga pary {pair} (ustawienie pairs witryny).',
      noPair: 'veil nie może przechowywać tego połączenia.', oneAtATime: 'Panele można filtrować naraz tylko według jednego innego wymiaru.',
      f_page: 'Strona', f_entry_page: 'Strona wejścia', f_exit_page: 'Strona wyjścia', f_source: 'Kanał', f_referrer: 'Strona odsyłająca',
      f_utm_source: 'Źródło kampanii', f_utm_medium: 'Medium kampanii', f_utm_campaign: 'Kampania', f_utm_term: 'Słowo kluczowe kampanii',
      f_utm_content: 'Treść kampanii', f_country: 'Kraj', f_region: 'Region', f_browser: 'Przeglądarka', f_os: 'System operacyjny',
      f_device: 'Urządzenie', f_event: 'Zdarzenie', f_goal: 'Cel', f_currency: 'Waluta',
      goals: 'Cele', goal: 'Cel', completions: 'Realizacje', converters: 'Konwertujący odwiedzający',
      conversion_rate: 'Współczynnik konwersji', revenue: 'Przychód', noGoals: 'Ta witryna nie deklaruje celów (ustawienie goals witryny).',
      convBy: 'Konwersja według', forGoal: 'dla', showAll: 'Pokaż wszystkie ({n})', previousNumbers: 'poprzednio: realizacje {c}, {r}',
      funnels: 'Lejki', noFunnels: 'Ta witryna nie deklaruje lejków (ustawienie funnels witryny).',
      stepPage: 'Strona {v}', stepEvent: 'Zdarzenie {v}', stepVisits: 'wizyty: {n}', ofFirst: '{p} kroku 1',
      dropoff: '{n} ({p}) nie przeszło dalej', lastStep: 'ostatni krok',
      funnelAlone: 'Kroki lejka są przechowywane osobno, bez pozostałych wymiarów.',
      collected: 'Zebrane', notCollected: 'Niezebrane',
      marketing: 'Zgoda marketingowa', analytics: 'Zgoda analityczna', anonymous: 'Tylko anonimowe zliczenie',
      denied: 'Odmowa zgody', gpc: 'Global Privacy Control', dnt: 'Do Not Track', optout: 'Rezygnacja (opt-out)',
      bot: 'Boty', rate_limited: 'Limit zapytań', invalid: 'Nieprawidłowe', total: 'Razem',
      hits: 'Trafienia', share: 'Udział', seconds: 's',
      csv: 'CSV', downloadCsv: 'Pobierz tę tabelę jako CSV', downloadFailed: 'Nie udało się pobrać pliku CSV: ',
      shared: 'Widok udostępniony · tylko do odczytu · do {d}', shareOnly: 'Niedostępne przez ten link.',
      badLink: 'Nie można otworzyć tego linku: ',
      allOther: 'Każdą z tych wartości widziało mniej niż {k} odwiedzających, więc wszystkie połączono w „Inne”: grupy poniżej {k} odwiedzających są ukryte (k-anonimowość).',
      noneShown: 'Brak grupy z co najmniej {k} odwiedzającymi: grupy poniżej {k} odwiedzających są ukryte (k-anonimowość).',
    },
  };
  const T = I18N[LANG];
  const t = (key, vars) => {
    let s = T[key] || key;
    for (const [k, v] of Object.entries(vars || {})) s = s.split('{' + k + '}').join(String(v));
    return s;
  };
  const LOCALE = LANG === 'pl' ? 'pl-PL' : 'en-GB';
  const nf = new Intl.NumberFormat(LOCALE);
  const pf = new Intl.NumberFormat(LOCALE, { style: 'percent', maximumFractionDigits: 1 });
  const df = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 2 });
  const money = (amount, currency) => {
    try {
      return new Intl.NumberFormat(LOCALE, { style: 'currency', currency }).format(amount);
    } catch (e) {
      return df.format(amount) + ' ' + currency;
    }
  };

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
  // A wide table scrolls inside its card, never the page (phones).
  const scroller = (table) => h('div', { class: 'table-wrap' }, table);

  // ---- formatting -------------------------------------------------------------
  function seconds(v) {
    const m = Math.floor(v / 60), sec = Math.round(v % 60);
    return m > 0 ? m + ' min ' + sec + ' ' + t('seconds') : sec + ' ' + t('seconds');
  }
  function fmt(metric, v) {
    if (v === null || v === undefined) return '—';
    if (metric === 'bounce_rate' || metric === 'conversion_rate') return pf.format(v);
    if (metric === 'visit_duration' || metric === 'time_on_page') return seconds(v);
    if (metric === 'scroll_depth') return pf.format(v / 100);
    if (metric === 'views_per_visit') return df.format(v);
    return nf.format(v);
  }
  // The relative change of `cur` against `prev`, as a small ▲/▼ label.
  function delta(change, metric, title) {
    if (change === null || change === undefined || !isFinite(change)) return null;
    const good = metric === 'bounce_rate' ? change < 0 : change > 0;
    return h('span', { class: 'delta ' + (change === 0 ? '' : good ? 'up' : 'down'), title, 'data-change': change },
      (change > 0 ? '▲ ' : change < 0 ? '▼ ' : '') + pf.format(Math.abs(change)));
  }
  const changeOf = (cur, prev) => (typeof cur === 'number' && typeof prev === 'number' && prev !== 0 ? (cur - prev) / prev : null);
  const vsLabel = (cmp) => t(cmp === 'year' ? 'vsYear' : 'vsPrev');

  // ---- dates (local dates of the site, as strings) --------------------------------
  const dayMs = 86400000;
  const parse = (d) => Date.UTC(+d.slice(0, 4), +d.slice(5, 7) - 1, +d.slice(8, 10));
  const iso = (ms) => new Date(ms).toISOString().slice(0, 10);
  const addDays = (d, n) => iso(parse(d) + n * dayMs);
  const spanDays = (a, b) => Math.round((parse(b) - parse(a)) / dayMs) + 1;

  // ---- state ----------------------------------------------------------------
  const state = {
    key: sessionStorage.getItem(KEY_STORE),
    today: null, k: 5, preset: '7d', from: null, to: null, compare: '', metric: 'visitors',
    // What the site declares (/api/v1/site): pairs, cross filters, goals, funnels.
    site: { pairs: [], cross_filters: {}, goals: [], funnels: [], currencies: [] },
    // Active filters, at most one per dimension: [{ dim, value }].
    filters: [],
    goalBy: 'source', goalPick: null,
    // The share link's scope (/api/v1/site `share`) and its fixed filters.
    share: null, locked: [],
    tabs: {}, timer: null, gen: 0,
  };

  class AuthError extends Error {}

  function apiUrl(endpoint, params) {
    const qs = new URLSearchParams({ site: SITE });
    for (const [k, v] of Object.entries(params || {})) {
      if (v === null || v === undefined) continue;
      for (const x of Array.isArray(v) ? v : [v]) qs.append(k, x);
    }
    return '/api/v1/' + endpoint + '?' + qs.toString();
  }
  const authHeaders = () => (SHARE ? { Authorization: 'Share ' + SHARE } : state.key ? { Authorization: 'Bearer ' + state.key } : {});

  async function api(endpoint, params) {
    const r = await fetch(apiUrl(endpoint, params), { headers: authHeaders() });
    if (r.status === 401 && SHARE) throw new AuthError(t('badLink') + ((await r.json().catch(() => ({}))).error || r.statusText));
    if (r.status === 401) throw new AuthError(t('badKey'));
    const j = await r.json().catch(() => ({ error: r.statusText }));
    if (!r.ok) {
      const e = new Error(j.error || r.statusText);
      e.status = r.status;
      throw e;
    }
    return j;
  }
  // The CSV of a card's query, saved as a file. A link could not carry the key
  // (it is sent as a header), so the answer is fetched and handed to the browser
  // as a Blob URL behind an `a[download]`.
  async function downloadCsv(endpoint, params) {
    const r = await fetch(apiUrl(endpoint, { ...params, format: 'csv' }), { headers: authHeaders() });
    if (r.status === 401) throw new AuthError(t('badKey'));
    if (!r.ok) {
      const j = await r.json().catch(() => ({ error: r.statusText }));
      throw new Error(j.error || r.statusText);
    }
    const blob = await r.blob();
    const named = /filename="([^"]+)"/.exec(r.headers.get('Content-Disposition') || '');
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: named ? named[1] : SITE + '-' + endpoint + '.csv', hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // A card's download button: hidden until `arm(endpoint, params)` names the
  // query its table was loaded with (`arm(null)` hides it again).
  function csvButton() {
    let query = null;
    const btn = h('button', { type: 'button', class: 'csv', title: t('downloadCsv'), 'aria-label': t('downloadCsv'), hidden: true },
      '↓ ' + t('csv'));
    btn.addEventListener('click', async () => {
      if (!query) return;
      btn.disabled = true;
      try {
        await downloadCsv(...query);
      } catch (e) {
        if (e instanceof AuthError) showLogin(e.message);
        else $('status').textContent = t('downloadFailed') + e.message;
      } finally {
        btn.disabled = false;
      }
    });
    btn.arm = (endpoint, params) => {
      query = endpoint ? [endpoint, params] : null;
      btn.hidden = !query;
      if (query) btn.dataset.endpoint = endpoint;
    };
    return btn;
  }

  // What a share link may call (all of it without one).
  const allowed = (endpoint) => !state.share || state.share.endpoints.includes(endpoint);
  const shareOnly = () => h('p', { class: 'unavailable', 'data-share-only': '' }, t('shareOnly'));
  // A group below k answers 404: shown as "not shown", not as an error.
  const orNull = (p) => p.catch((e) => (e.status === 404 ? null : Promise.reject(e)));

  // ---- filters ------------------------------------------------------------------
  const pairOf = (a, b) => PAIRS.find((p) => p === a + '*' + b || p === b + '*' + a) || null;
  const stored = (a, b) => {
    const p = pairOf(a, b);
    return p && state.site.pairs.includes(p) ? p : null;
  };
  const filterParam = (list) => (list || state.filters).map((f) => f.dim + ':' + f.value);
  const filterLabel = (f) => t('f_' + f.dim) + ': ' + f.value;

  // Whether the KPIs and the chart can use the filters: one, or two whose pair
  // the site stores.
  function overallAvailability() {
    const f = state.filters;
    if (f.length <= 1) return { ok: true };
    if (f.length === 2) return stored(f[0].dim, f[1].dim) ? { ok: true } : { ok: false, pair: pairOf(f[0].dim, f[1].dim), missing: true };
    return { ok: false, many: true };
  }

  // Whether a breakdown of `dim` can use the filters: its own dimension's, plus
  // at most one other dimension it has a stored pair with.
  function cardAvailability(dim) {
    const others = [...new Set(state.filters.filter((f) => f.dim !== dim).map((f) => f.dim))];
    if (!others.length) return { ok: true };
    if (others.length > 1) return { ok: false, many: true };
    if ((state.site.cross_filters[dim] || []).includes(others[0])) return { ok: true };
    // Properties belong to their event: an event filter picks that event's.
    if (dim === 'prop' && others[0] === 'event') return { ok: true };
    return { ok: false, pair: pairOf(dim, others[0]), missing: true };
  }

  function unavailable(av) {
    const why = av.many ? t('oneAtATime') : av.pair ? t('needsPair', { pair: av.pair }) : t('noPair');
    return h('p', { class: 'unavailable', 'data-unavailable': av.pair || '' }, t('notAvailable') + ' ', h('span', { class: 'muted' }, why));
  }

  function addFilter(dim, value) {
    if (state.filters.some((f) => f.dim === dim && (f.value === value || f.locked))) return;
    state.filters = state.filters.filter((f) => f.dim !== dim).concat([{ dim, value }]);
    renderFilters();
    load();
    window.scrollTo(0, 0);
  }

  function removeFilter(i) {
    state.filters = state.filters.filter((f, j) => j !== i || f.locked);
    renderFilters();
    load();
  }

  function renderFilters() {
    const bar = $('filters');
    bar.hidden = false;
    bar.replaceChildren(h('span', { class: 'filters-title' }, t('filters') + ':'));
    if (!state.filters.length) {
      bar.append(h('span', { class: 'muted' }, t('filterHint')));
      return;
    }
    state.filters.forEach((f, i) => {
      // A share link's filters are fixed: shown, not removable.
      bar.append(h('span', { class: 'chip' + (f.locked ? ' locked' : ''), 'data-filter': f.dim + ':' + f.value },
        h('span', { class: 'chip-text' }, filterLabel(f)),
        f.locked ? null : h('button', { type: 'button', class: 'chip-remove', 'aria-label': t('removeFilter', { f: filterLabel(f) }), title: t('removeFilter', { f: filterLabel(f) }), onclick: () => removeFilter(i) }, '×')));
    });
    if (state.filters.filter((f) => !f.locked).length > 1) {
      bar.append(h('button', { type: 'button', class: 'chips-clear', onclick: () => { state.filters = state.locked.slice(); renderFilters(); load(); } }, t('clearFilters')));
    }
  }

  // ---- login ------------------------------------------------------------------
  function showLogin(message) {
    $('app').hidden = true;
    $('controls').hidden = true;
    $('filters').hidden = true;
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
    if (state.share) {
      const until = new Date(state.share.expires * 1000).toISOString().slice(0, 10);
      c.append(h('span', { class: 'share-note', 'data-share': state.share.link }, t('shared', { d: until })));
    }
    if (state.share && state.share.from) {
      // The link's dates are fixed: no presets, no comparison (it would read outside them).
      c.append(h('span', { class: 'range muted', id: 'range' }, state.from + ' – ' + state.to));
      return;
    }
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
  // A card: its title in a head, where withDownload() puts a csvButton().
  function card(id, title, ...content) {
    return h('section', { class: 'card', id }, h('div', { class: 'card-head' }, h('h2', {}, title)), ...content);
  }
  function withDownload(wrap, btn) {
    wrap.querySelector('.card-head').append(btn);
    return wrap;
  }

  const CHARTABLE = ['visitors', 'visits', 'pageviews', 'events'];
  // Rows of a breakdown's CSV: the most one API answer holds (MAX_LIMIT).
  const CSV_ROWS = 1000;

  function kpis(agg, extra) {
    const grid = h('div', { class: 'kpis' });
    const metrics = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration', 'events',
      'completions', 'time_on_page', 'scroll_depth'];
    for (const m of metrics) {
      // A filtered answer carries only the metrics its dimension stores.
      if (!(m in agg.metrics)) continue;
      const v = agg.metrics[m];
      const d = agg.change ? delta(agg.change[m], m, vsLabel(agg.comparison)) : null;
      const chartable = CHARTABLE.includes(m);
      grid.append(h(chartable ? 'button' : 'div', {
        type: chartable ? 'button' : null,
        class: 'kpi' + (state.metric === m ? ' active' : ''), 'data-kpi': m, 'data-value': v === null ? '' : v,
        onclick: chartable ? () => { state.metric = m; render(state.last); } : null,
      }, h('span', { class: 'label' }, t(m)), h('span', { class: 'value' }, fmt(m, v)), d));
    }
    for (const [key, label, v] of extra || []) {
      grid.append(h('div', { class: 'kpi', 'data-kpi': key, 'data-value': v === null ? '' : v },
        h('span', { class: 'label' }, label), h('span', { class: 'value' }, v === null ? t('suppressed', { k: state.k }) : fmt('visits', v))));
    }
    return grid;
  }

  function chart(series, metric, k) {
    const W = window.innerWidth < 600 ? 440 : 800, H = 220, L = 48, R = 22, TOP = 12, B = 28;
    const buckets = series.buckets;
    const prev = series.previous || null;
    const val = (b) => (b && !b.suppressed && typeof b[metric] === 'number' ? b[metric] : null);
    const all = buckets.map(val).concat(prev ? prev.map(val) : []).filter((v) => v !== null);
    // At least 4, so the axis of a few visits counts 0 to 4, not 0, 0, 1, 1, 1.
    const max = Math.max(4, ...all);
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
      let tip = b.label + ': ' + (b.suppressed ? t('suppressed', { k }) : fmt(metric, v));
      if (prev && prev[i]) tip += ' · ' + vsLabel(series.comparison) + ': ' + (prev[i].suppressed ? t('suppressed', { k }) : fmt(metric, val(prev[i])));
      dot.append(s('title', {}, tip));
      svg.append(dot);
    });
    return svg;
  }

  // The rows of a breakdown. `filtered`: the card uses a filter, so `(other)` (one
  // fixed group of the whole dimension) is not listed beside the filtered rows.
  function table(dim, data, opts) {
    const o = opts || {};
    const metric = data.sort;
    const rows = data.rows;
    const other = o.filtered ? null : data.other;
    // Empty because of k: say so (a filtered share link never gets `(other)`).
    if (!rows.length && !other) {
      const hidden = o.filtered && (data.other || state.locked.length);
      return h('p', { class: 'muted', 'data-k-hint': hidden ? '' : null }, hidden ? t('noneShown', { k: data.k }) : t('none'));
    }
    const cols = ['visitors'];
    if (metric !== 'visitors') cols.push(metric);
    // Pages carry average time on page and scroll depth (from engagement reports).
    if (dim === 'page' && rows.some((r) => 'time_on_page' in r)) cols.push('time_on_page', 'scroll_depth');
    const max = Math.max(1, ...rows.map((r) => r[metric] || 0), other ? other[metric] || 0 : 0);
    const tb = h('tbody');
    const label = (r) => (dim === 'prop' ? r.event + ' · ' + r.key + ' = ' + r.value : r.value);
    const cell = (r, m, withDelta) => h('td', { class: 'num' }, fmt(m, r[m]),
      withDelta && r.previous ? delta(changeOf(r[m], r.previous[m]), m, vsLabel(data.comparison) + ': ' + fmt(m, r.previous[m])) : null);
    for (const r of rows) {
      const bar = h('span', { class: 'bar' });
      bar.style.width = ((100 * (r[metric] || 0)) / max).toFixed(1) + '%';
      const name = h('td', { class: 'name' }, bar, h('span', { class: 'text', title: label(r) }, label(r)));
      const tr = h('tr', { 'data-value': r.value }, name, cols.map((m) => cell(r, m, m === metric)));
      for (const m of cols) if (typeof r[m] === 'number') tr.dataset[m.replace(/_(.)/g, (_, c) => c.toUpperCase())] = r[m];
      if (o.onclick && dim !== 'prop') {
        tr.classList.add('clickable');
        tr.tabIndex = 0;
        tr.addEventListener('click', () => o.onclick(r.value));
        tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') o.onclick(r.value); });
      }
      tb.append(tr);
    }
    if (other) {
      tb.append(h('tr', { class: 'other', title: t('otherHelp', { k: data.k }) },
        h('td', { class: 'name' }, h('span', { class: 'text' }, t('other', { k: data.k }))),
        cols.map((m) => cell(other, m, false))));
    }
    const tbl = h('table', { class: 'rows', 'data-dimension': dim, 'data-pair': data.pair || null },
      h('thead', {}, h('tr', {}, h('th', {}, t('value')), cols.map((m) => h('th', { class: 'num' }, t(m))))), tb);
    const hint = o.filtered ? t('unlisted', { k: data.k }) : !rows.length ? t('allOther', { k: data.k }) : null;
    return h('div', {}, scroller(tbl), hint ? h('p', { class: 'muted hint', 'data-k-hint': '' }, hint) : null,
      data.noised ? h('p', { class: 'muted hint', 'data-noise-hint': '' }, t('noisedHelp')) : null);
  }

  // A card with tabs over several dimensions; each tab loads its breakdown, with
  // the filters when its dimension can take them.
  function tabbed(id, title, dims, opts) {
    const o = opts || {};
    const body = h('div', { class: 'tab-body' });
    const bar = h('div', { class: 'tabs', role: 'tablist' });
    const current = state.tabs[id] && dims.includes(state.tabs[id]) ? state.tabs[id] : dims[0];
    const dl = csvButton();
    const show = async (dim) => {
      state.tabs[id] = dim;
      dl.arm(null);
      for (const b of bar.children) b.setAttribute('aria-selected', String(b.dataset.dim === dim));
      const av = cardAvailability(dim);
      if (!av.ok) {
        body.replaceChildren(unavailable(av));
        return;
      }
      body.replaceChildren(h('p', { class: 'muted' }, t('loading')));
      const gen = state.gen;
      const cmp = state.compare ? { compare: state.compare } : {};
      try {
        const event = dim === 'prop' ? state.filters.find((f) => f.dim === 'event') : null;
        const filter = filterParam(state.filters.filter((f) => f !== event));
        const query = { from: state.from, to: state.to, dimension: dim, filter, event: event ? event.value : null, ...cmp };
        const data = await api('breakdown', { ...query, limit: o.limit || 10 });
        if (gen !== state.gen) return;
        body.replaceChildren(table(dim, data, { onclick: (v) => addFilter(dim, v), filtered: state.filters.length > 0 }));
        // The file has every row the API pages out at once (the card shows the top ones).
        dl.arm('breakdown', { ...query, limit: CSV_ROWS });
      } catch (e) {
        if (gen === state.gen) body.replaceChildren(h('p', { class: 'error' }, e.message));
      }
    };
    if (dims.length > 1) {
      for (const d of dims) bar.append(h('button', { type: 'button', role: 'tab', 'data-dim': d, onclick: () => show(d) }, t(d)));
    }
    show(current);
    return withDownload(card(id, title, dims.length > 1 ? bar : null, body), dl);
  }

  // ---- goals ------------------------------------------------------------------------
  function goalsCard() {
    const wrap = card('goals', t('goals'));
    wrap.classList.add('wide');
    if (!allowed('goals')) {
      wrap.append(shareOnly());
      return wrap;
    }
    const goals = state.site.goals || [];
    if (!goals.length) {
      wrap.append(h('p', { class: 'muted' }, t('noGoals')));
      return wrap;
    }
    const byDims = GOAL_BY.filter((d) => stored(d, 'goal'));
    // Filters: the goal's own narrows the list; one other dimension is read
    // through its `*goal` pair (the `by` rows of the filtered value).
    const own = state.filters.find((f) => f.dim === 'goal');
    const others = state.filters.filter((f) => f.dim !== 'goal');
    let through = null;
    if (others.length > 1) {
      wrap.append(unavailable({ many: true }));
      return wrap;
    }
    if (others.length === 1) {
      through = others[0];
      if (!byDims.includes(through.dim)) {
        wrap.append(unavailable({ pair: pairOf(through.dim, 'goal') }));
        return wrap;
      }
    }
    if (!byDims.includes(state.goalBy)) state.goalBy = byDims[0] || null;
    // `tab-body`: what benches/dashboard-timing.mjs waits for, as for the tabbed cards.
    const body = h('div', { class: 'tab-body goals-body' }, h('p', { class: 'muted' }, t('loading')));
    wrap.append(body);
    const gen = state.gen;
    const by = through ? through.dim : state.goalBy;
    const cmp = state.compare && !through ? { compare: state.compare } : {};
    const query = { from: state.from, to: state.to, by: by || null, ...cmp };
    const dl = csvButton();
    withDownload(wrap, dl);
    api('goals', query).then((g) => {
      if (gen !== state.gen) return;
      dl.arm('goals', query);
      let list = g.goals.filter((x) => !own || x.name === own.value);
      if (through) {
        // The numbers of the filtered value: completions and converting visitors
        // from the pair, the rate against that value's visitors.
        list = list.map((x) => {
          const row = (x.by || []).find((r) => r.value === through.value);
          return row ? { ...x, ...row, name: x.name, suppressed: false, revenue: null, previous: null }
            : { ...x, suppressed: true, completions: null, visitors: null, conversion_rate: null, revenue: null, previous: null };
        });
      }
      const parts = [goalTable(list, g)];
      if (!through && by) parts.push(goalBreakdown(g, byDims));
      // Every goal below k: say why none is shown.
      if (list.length && list.every((x) => x.suppressed)) parts.push(h('p', { class: 'muted hint', 'data-k-hint': '' }, t('noneShown', { k: g.k })));
      // replaceChildren() would write a null as the text "null".
      body.replaceChildren(...parts.filter(Boolean));
    }).catch((e) => {
      if (gen === state.gen) body.replaceChildren(h('p', { class: 'error' }, e.message));
    });
    return wrap;
  }

  function goalTable(list, g) {
    const tb = h('tbody');
    const k = g.k;
    for (const x of list) {
      const prev = x.previous || null;
      const tr = h('tr', {
        'data-goal': x.name, 'data-suppressed': String(!!x.suppressed),
        'data-completions': x.completions ?? '', 'data-visitors': x.visitors ?? '', 'data-rate': x.conversion_rate ?? '',
      });
      const what = x.event ? t('stepEvent', { v: x.event }) : t('stepPage', { v: x.page });
      tr.append(h('td', { class: 'name' }, h('span', { class: 'text', title: what }, x.name), ' ', h('span', { class: 'muted' }, what)));
      if (x.suppressed) {
        tr.append(h('td', { class: 'num muted', colspan: 4 }, t('suppressed', { k })));
      } else {
        const title = prev && !prev.suppressed
          ? vsLabel(g.comparison) + ': ' + t('previousNumbers', { c: fmt('completions', prev.completions), r: fmt('conversion_rate', prev.conversion_rate) })
          : null;
        tr.append(
          h('td', { class: 'num' }, fmt('completions', x.completions), prev ? delta(changeOf(x.completions, prev.completions), 'completions', title) : null),
          h('td', { class: 'num' }, fmt('visitors', x.visitors)),
          h('td', { class: 'num' }, fmt('conversion_rate', x.conversion_rate), prev ? delta(changeOf(x.conversion_rate, prev.conversion_rate), 'conversion_rate', title) : null),
          h('td', { class: 'num', 'data-revenue': (x.revenue || []).map((r) => r.currency + ':' + r.amount).join(' ') },
            x.revenue && x.revenue.length ? x.revenue.map((r) => money(r.amount, r.currency)).join(' · ') : '—'));
        tr.classList.add('clickable');
        tr.tabIndex = 0;
        tr.addEventListener('click', () => addFilter('goal', x.name));
        tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') addFilter('goal', x.name); });
      }
      tb.append(tr);
    }
    const head = ['completions', 'converters', 'conversion_rate', 'revenue'];
    return scroller(h('table', { class: 'rows goals', 'data-goals': '' },
      h('thead', {}, h('tr', {}, h('th', {}, t('goal')), head.map((m) => h('th', { class: 'num' }, t(m))))), tb));
  }

  // Conversion per value of the chosen dimension, for one goal.
  function goalBreakdown(g, byDims) {
    const named = g.goals.filter((x) => !x.suppressed);
    if (!named.length) return null;
    if (!named.some((x) => x.name === state.goalPick)) state.goalPick = named[0].name;
    const bySel = h('select', { id: 'goal-by' },
      byDims.map((d) => h('option', { value: d, selected: d === state.goalBy ? '' : null }, t('f_' + d))));
    bySel.addEventListener('change', () => { state.goalBy = bySel.value; replace(goalsCard()); });
    const goalSel = h('select', { id: 'goal-pick' },
      named.map((x) => h('option', { value: x.name, selected: x.name === state.goalPick ? '' : null }, x.name)));
    const out = h('div', { class: 'goal-by-rows' });
    let all = false;
    const fill = () => {
      const goal = named.find((x) => x.name === state.goalPick);
      const every = (goal && goal.by) || [];
      if (!every.length) {
        out.replaceChildren(h('p', { class: 'muted' }, t('none')));
        return;
      }
      // The values with the most converting visitors first; the rest on demand.
      const rows = all ? every : every.slice(0, 10);
      const more = every.length > rows.length
        ? h('button', { type: 'button', class: 'more', onclick: () => { all = true; fill(); } }, t('showAll', { n: every.length }))
        : null;
      const max = Math.max(1e-9, ...rows.map((r) => r.conversion_rate || 0));
      const tb = h('tbody');
      for (const r of rows) {
        const bar = h('span', { class: 'bar' });
        bar.style.width = ((100 * (r.conversion_rate || 0)) / max).toFixed(1) + '%';
        tb.append(h('tr', { 'data-value': r.value, 'data-completions': r.completions, 'data-visitors': r.visitors, 'data-rate': r.conversion_rate ?? '' },
          h('td', { class: 'name' }, bar, h('span', { class: 'text', title: r.value }, r.value)),
          h('td', { class: 'num' }, fmt('completions', r.completions)),
          h('td', { class: 'num' }, fmt('visitors', r.visitors)),
          h('td', { class: 'num' }, fmt('conversion_rate', r.conversion_rate))));
      }
      out.replaceChildren(scroller(h('table', { class: 'rows', 'data-goal-by': g.by, 'data-goal': state.goalPick },
        h('thead', {}, h('tr', {}, h('th', {}, t('f_' + g.by)), ['completions', 'converters', 'conversion_rate'].map((m) => h('th', { class: 'num' }, t(m))))), tb)), more || '');
    };
    goalSel.addEventListener('change', () => { state.goalPick = goalSel.value; all = false; fill(); });
    fill();
    return h('div', { class: 'goal-by' },
      h('div', { class: 'goal-by-controls' },
        h('label', { for: 'goal-by' }, t('convBy')), bySel, h('label', { for: 'goal-pick' }, t('forGoal')), goalSel),
      out);
  }

  // Swaps a card for a fresh one with the same id.
  function replace(el) {
    const old = $(el.id);
    if (old) old.replaceWith(el);
  }

  // ---- funnels ------------------------------------------------------------------------
  function funnelsCard() {
    const wrap = card('funnels', t('funnels'));
    wrap.classList.add('wide');
    if (!(state.site.funnels || []).length) {
      wrap.append(h('p', { class: 'muted' }, t('noFunnels')));
      return wrap;
    }
    if (!allowed('funnels')) {
      wrap.append(shareOnly());
      return wrap;
    }
    // Funnel steps are stored alone (no pairs): they cannot be filtered.
    if (state.filters.length) {
      wrap.append(h('p', { class: 'unavailable', 'data-unavailable': '' }, t('notAvailable') + ' ', h('span', { class: 'muted' }, t('funnelAlone'))));
      return wrap;
    }
    const body = h('div', { class: 'tab-body' }, h('p', { class: 'muted' }, t('loading')));
    wrap.append(body);
    const gen = state.gen;
    const query = { from: state.from, to: state.to };
    const dl = csvButton();
    withDownload(wrap, dl);
    api('funnels', query).then((r) => {
      if (gen !== state.gen) return;
      dl.arm('funnels', query);
      body.replaceChildren(...r.funnels.map((f) => funnel(f, r.k)));
    }).catch((e) => {
      if (gen === state.gen) body.replaceChildren(h('p', { class: 'error' }, e.message));
    });
    return wrap;
  }

  function funnel(f, k) {
    const first = f.steps.length && !f.steps[0].suppressed ? f.steps[0].visits : 0;
    const list = h('ol', { class: 'funnel-steps' });
    for (const st of f.steps) {
      const what = st.event !== undefined ? t('stepEvent', { v: st.label }) : t('stepPage', { v: st.label });
      const bar = h('span', { class: 'fill' });
      bar.style.width = (first && !st.suppressed ? (100 * st.visits) / first : 0).toFixed(1) + '%';
      const last = st.step === f.steps.length;
      const foot = st.suppressed
        ? [t('suppressed', { k })]
        : [t('ofFirst', { p: fmt('conversion_rate', st.conversion_rate) }),
          last ? t('lastStep') : st.dropoff === null ? null : '↓ ' + t('dropoff', { n: nf.format(st.dropoff), p: fmt('conversion_rate', st.dropoff_rate) })];
      list.append(h('li', {
        class: 'funnel-step', 'data-step': st.step, 'data-visits': st.visits ?? '', 'data-dropoff': st.dropoff ?? '',
        'data-suppressed': String(!!st.suppressed),
      },
      h('div', { class: 'step-head' }, h('span', { class: 'step-label' }, st.step + '. ' + what),
        h('span', { class: 'step-visits' }, st.suppressed ? '—' : t('stepVisits', { n: nf.format(st.visits) }))),
      h('div', { class: 'step-bar' }, bar),
      h('div', { class: 'step-foot muted' }, foot.filter(Boolean).join(' · '))));
    }
    return h('section', { class: 'funnel', 'data-funnel': f.name }, h('h3', {}, f.name), list);
  }

  function consentCard(c) {
    if (!c) return card('consent', t('consent'), shareOnly());
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

  // ---- load and render ------------------------------------------------------------
  async function load() {
    state.gen++;
    const gen = state.gen;
    $('status').textContent = t('loading');
    $('range') && ($('range').textContent = state.from + ' – ' + state.to);
    const range = { from: state.from, to: state.to };
    const cmp = state.compare ? { compare: state.compare } : {};
    const av = overallAvailability();
    const filter = { filter: filterParam() };
    // A single page filter also shows the visits that entered and left there.
    // (Not under a share link's filter: the entry/exit filter would be paired with it.)
    const page = !state.locked.length && state.filters.length === 1 && state.filters[0].dim === 'page' ? state.filters[0].value : null;
    const seriesQuery = { ...range, ...filter, interval: interval(), ...cmp };
    try {
      const [agg, series, consent, entries, exits] = await Promise.all([
        av.ok ? orNull(api('aggregate', { ...range, ...filter, ...cmp })) : null,
        av.ok ? orNull(api('timeseries', seriesQuery)) : null,
        allowed('consent') ? api('consent', range) : null,
        page !== null ? orNull(api('aggregate', { ...range, filter: 'entry_page:' + page })) : null,
        page !== null ? orNull(api('aggregate', { ...range, filter: 'exit_page:' + page })) : null,
      ]);
      if (gen !== state.gen) return;
      $('status').textContent = '';
      state.last = { agg, series, seriesQuery, consent, av, page, entries, exits };
      render(state.last);
    } catch (e) {
      if (e instanceof AuthError) return showLogin(e.message);
      if (gen === state.gen) $('status').textContent = t('failed') + e.message;
    }
  }

  function trafficCard(data) {
    const title = h('h2', {});
    const dl = csvButton();
    const wrap = h('section', { class: 'card wide', id: 'traffic' }, h('div', { class: 'card-head' }, title, dl));
    if (!data.av.ok) {
      title.textContent = t('chart');
      wrap.append(unavailable(data.av));
      return wrap;
    }
    if (!data.agg) {
      title.textContent = t('chart');
      wrap.append(h('p', { class: 'muted' }, t('smallGroup', { k: state.k })));
      return wrap;
    }
    // The chart shows a metric the (filtered) answer has.
    const metric = data.agg.metrics[state.metric] !== undefined ? state.metric : 'visitors';
    title.textContent = t('chart') + ' · ' + t(metric);
    const extra = data.page !== null
      ? [['entries', t('entries'), data.entries ? data.entries.metrics.visits : null],
        ['exits', t('exits'), data.exits ? data.exits.metrics.visits : null]]
      : [];
    const grid = kpis(data.agg, extra);
    for (const b of grid.querySelectorAll('.kpi')) b.classList.toggle('active', b.dataset.kpi === metric);
    wrap.append(grid);
    if (data.series) {
      wrap.append(chart(data.series, metric, state.k));
      dl.arm('timeseries', data.seriesQuery);
    }
    return wrap;
  }

  function render(data) {
    state.gen++;
    const app = $('app');
    app.hidden = false;
    app.replaceChildren();
    app.append(trafficCard(data));
    const pages = tabbed('pages', t('pages'), ['page', 'entry_page', 'exit_page']);
    pages.classList.add('double');
    app.append(pages);
    app.append(tabbed('sources', t('sources'), ['source', 'referrer']));
    app.append(goalsCard());
    app.append(funnelsCard());
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

  // A share link that does not open: the reason, no key form.
  function linkRefused(message) {
    for (const id of ['app', 'controls', 'filters', 'login']) $(id).hidden = true;
    $('status').textContent = message;
    $('status').setAttribute('role', 'alert');
  }

  async function start() {
    if (!PUBLIC && !state.key && !SHARE) return showLogin();
    $('login').hidden = true;
    $('status').textContent = t('loading');
    try {
      const site = await api('site', {});
      state.today = site.today;
      state.k = site.k;
      state.site = {
        pairs: site.pairs || [], cross_filters: site.cross_filters || {}, goals: site.goals || [],
        funnels: site.funnels || [], currencies: site.currencies || [],
      };
      state.share = site.share || null;
    } catch (e) {
      if (e instanceof AuthError) return SHARE ? linkRefused(e.message) : showLogin(state.key ? e.message : null);
      $('status').textContent = t('failed') + e.message;
      return;
    }
    if (state.share) {
      state.locked = state.share.filters.map((f) => {
        const i = f.indexOf(':');
        return { dim: f.slice(0, i), value: f.slice(i + 1), locked: true };
      });
      state.filters = state.locked.slice();
    }
    [state.from, state.to] = state.share && state.share.from ? [state.share.from, state.share.to] : rangeFor(state.preset);
    renderControls();
    renderFilters();
    load();
    clearInterval(state.timer);
    if (!allowed('realtime')) return;
    realtime();
    state.timer = setInterval(realtime, 15000);
  }

  if (EMBED) body.classList.add('embed');
  // The language links keep the share link.
  if (SHARE) {
    for (const a of document.querySelectorAll('.langs a')) {
      const q = new URLSearchParams(location.search);
      q.set('lang', a.getAttribute('hreflang'));
      a.setAttribute('href', '?' + q.toString());
    }
  }
  document.title = 'veil · ' + SITE + ' · ' + t('title');
  start();
})();
