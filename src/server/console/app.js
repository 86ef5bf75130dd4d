// The profiled console (docs/API.md, "Console"): plain JavaScript, no framework, no build.
// Everything it shows comes from the admin API, read with the admin token the user signs in
// with (kept in this tab's sessionStorage). Every value from the server becomes a text node
// (textContent, createTextNode) or an attribute set with setAttribute, never markup: event and
// property values come from anyone holding an api_key.
'use strict';

(() => {
  const TOKEN_KEY = 'profiled.console.token';
  const REFRESH_MS = 2000;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const VIEWS = ['overview', 'lookup', 'recs'];
  // The server's rings (GET /admin/v1/stats): the page keeps no more samples than they do.
  const MAX_RATE_SAMPLES = 360;
  const MAX_COHORT_SAMPLES = 288;

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    projects: null, // [{id, profile_dialect, computations, cohorts, recommendations}]
    projectsAvailable: true,
    project: null,
    view: 'overview',
    defs: { computations: [], cohorts: [], recommendations: [] },
    timer: 0,
    serverNow: 0, // the stats' `now`: an empty plot's time axis ends there
    statsMissing: false, // GET /admin/v1/stats answered 404 (a server without it)
    // The samples fetched so far, for one project: {project, started, now, rateInterval, rates,
    // cohortInterval, cohorts}. Each refresh asks only for newer samples (?since=).
    stats: null,
    generation: 0, // bumps on every navigation: a late answer of an old view is dropped
  };

  const $ = (id) => document.getElementById(id);

  // ---- DOM helpers: text only -----------------------------------------------------------

  // el('td', {class: 'value'}, 'text', childNode, ...): strings become text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'hidden' || k === 'disabled') node[k] = Boolean(v);
      else node.setAttribute(k, String(v));
    }
    append(node, children);
    return node;
  }
  function append(node, children) {
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }
  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }
  function fill(node, ...children) {
    return append(clear(node), children);
  }

  // A value as the console shows it: a string as it is, anything else as its JSON.
  function valueText(v) {
    if (typeof v === 'string') return v;
    if (v === undefined) return '';
    return JSON.stringify(v);
  }
  function fmtNumber(n, digits = 0) {
    if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
    return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  }
  function fmtPercent(x, digits = 1) {
    if (typeof x !== 'number' || !Number.isFinite(x)) return '—';
    return `${(x * 100).toFixed(digits)}%`;
  }
  function fmtCompact(n) {
    const a = Math.abs(n);
    if (a >= 1e9) return `${+(n / 1e9).toFixed(1)}G`;
    if (a >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
    if (a >= 1e4) return `${+(n / 1e3).toFixed(1)}k`;
    return `${+n.toFixed(2)}`;
  }
  // Unix seconds (or milliseconds with ms = true) as UTC "YYYY-MM-DD HH:MM:SS".
  function fmtTime(t, ms = false) {
    if (typeof t !== 'number') return '—';
    return new Date(ms ? t : t * 1000).toISOString().replace('T', ' ').slice(0, 19);
  }
  function fmtClock(seconds) {
    return new Date(seconds * 1000).toISOString().slice(11, 19);
  }

  // A table of rows; `columns` are header texts, each row an array of cells (text or nodes).
  function table(columns, rows, attrs) {
    return el('table', attrs,
      el('thead', null, el('tr', null, columns.map((c) => el('th', null, c)))),
      el('tbody', null, rows));
  }
  function empty(text) {
    return el('p', { class: 'empty' }, text);
  }

  // ---- the admin API ---------------------------------------------------------------------

  class SignedOut extends Error {}

  // GET `path` with the token: {status, body, retryAfter}. A 401 signs out, showing its
  // message, and throws SignedOut.
  async function api(path, token = state.token) {
    const res = await fetch(path, {
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
      cache: 'no-store',
    });
    const text = await res.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    if (res.status === 401 && token === state.token) {
      signOut(messageOf({ status: 401, body }));
      throw new SignedOut();
    }
    return { status: res.status, body, retryAfter: res.headers.get('Retry-After') };
  }
  function messageOf(r) {
    const said = r.body && typeof r.body.error === 'string' ? r.body.error : 'no message';
    return `${r.status}: ${said}`;
  }
  const base = () => `/admin/v1/projects/${encodeURIComponent(state.project)}`;

  function showError(text) {
    $('error').textContent = text || '';
  }

  // ---- sign-in -----------------------------------------------------------------------------

  function showSignIn(message) {
    $('app-view').hidden = true;
    $('sign-out').hidden = true;
    $('sign-in-view').hidden = false;
    $('sign-in-error').textContent = message || '';
    $('server-time').textContent = '';
    $('token').value = '';
    $('token').focus();
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = '';
    state.projects = null;
    state.generation++;
    clearTimeout(state.timer);
    state.project = null;
    // No data stays in the page once signed out.
    for (const id of ['computations', 'cohorts', 'recommendations', 'lookup-result', 'recs-list', 'project-list', 'projects-note']) {
      clear($(id));
    }
    for (const id of ['rates-chart', 'cohorts-chart']) fill($(id), $(id).querySelector('figcaption'));
    $('lookup-result').removeAttribute('data-loaded');
    showError('');
    showSignIn(message);
  }

  // Checks `token` with GET /admin/v1/projects. A server without that endpoint (404) cannot
  // check it here: the next call does (its 401 signs out).
  async function signIn(token) {
    const r = await api('/admin/v1/projects', token);
    if (r.status === 401) {
      $('sign-in-error').textContent = messageOf(r);
      $('token').value = '';
      $('token').focus();
      return;
    }
    if (r.status !== 200 && r.status !== 404) {
      $('sign-in-error').textContent = `GET /admin/v1/projects: ${messageOf(r)}`;
      return;
    }
    state.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    takeProjects(r);
    startApp();
  }

  function takeProjects(r) {
    if (r.status === 200 && r.body && Array.isArray(r.body.projects)) {
      state.projects = r.body.projects;
      state.projectsAvailable = true;
    } else {
      state.projects = [];
      state.projectsAvailable = false;
    }
  }

  // ---- the app shell -----------------------------------------------------------------------

  function startApp() {
    $('sign-in-view').hidden = true;
    $('app-view').hidden = false;
    $('sign-out').hidden = false;
    renderProjects();
    route();
  }

  function renderProjects() {
    const list = clear($('project-list'));
    for (const p of state.projects) {
      const n = (count, noun) => `${count} ${noun}${count === 1 ? '' : 's'}`;
      // Each count unbroken: a narrow sidebar wraps between them.
      const counts = [n(p.computations, 'computation'), n(p.cohorts, 'cohort'), n(p.recommendations, 'recommendation')]
        .flatMap((c, i, all) => [i > 0 ? ' ' : null, el('span', { class: 'count' }, i < all.length - 1 ? `${c} ·` : c)]);
      list.appendChild(el('li', null,
        el('a', { href: `#/${encodeURIComponent(p.id)}/overview`, 'data-project': p.id },
          el('strong', null, p.id), el('span', { class: 'counts' }, counts))));
    }
    const note = $('projects-note');
    if (state.projectsAvailable) {
      fill(note, state.projects.length === 0 ? 'No projects configured.' : '');
      return;
    }
    // A server without GET /admin/v1/projects: the user names the project.
    const input = el('input', { id: 'project-id', placeholder: 'project id', required: 'required' });
    const form = el('form', { id: 'project-form' }, input, el('button', { type: 'submit' }, 'Open'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (input.value) location.hash = `#/${encodeURIComponent(input.value)}/overview`;
    });
    fill(note, 'The project list is not available on this server (GET /admin/v1/projects: 404).', form);
  }

  // #/{project}/{view}
  function route() {
    const parts = location.hash.replace(/^#\/?/, '').split('/');
    let project = '';
    try {
      project = parts[0] ? decodeURIComponent(parts[0]) : '';
    } catch {
      project = ''; // a malformed hash: the first project
    }
    let view = VIEWS.includes(parts[1]) ? parts[1] : 'overview';
    if (!project && state.projects.length > 0) project = state.projects[0].id;
    const known = state.projects.find((p) => p.id === project);
    if (state.projectsAvailable && !known && state.projects.length > 0) {
      project = state.projects[0].id;
      view = 'overview';
    }
    state.generation++;
    clearTimeout(state.timer);
    state.statsMissing = false;
    showError('');
    if (state.project !== (project || null)) {
      // Nothing of another project stays on the page.
      clear($('lookup-result')).removeAttribute('data-loaded');
      clear($('recs-list'));
    }
    state.project = project || null;
    state.view = view;
    for (const a of document.querySelectorAll('#project-list a')) {
      a.classList.toggle('current', a.getAttribute('data-project') === project);
    }
    for (const v of VIEWS) {
      const tab = $(`tab-${v}`);
      tab.classList.toggle('current', v === view);
      tab.setAttribute('href', `#/${encodeURIComponent(project || '')}/${v}`);
      $(`view-${v}`).hidden = v !== view || !project;
    }
    $('project-title').textContent = project || 'No project';
    $('project-dialect').textContent = known ? `${known.profile_dialect} dialect` : '';
    $('project-dialect').hidden = !known;
    if (!project) return;
    if (view === 'overview') refreshOverview(state.generation);
    if (view === 'lookup') enterLookup(state.generation);
    if (view === 'recs') renderRecs(state.generation);
  }

  // ---- definitions ---------------------------------------------------------------------------

  // Loads the three kinds of definitions of the current project into state.defs.
  async function loadDefinitions(gen) {
    const kinds = ['computations', 'cohorts', 'recommendations'];
    const answers = await Promise.all(kinds.map((k) => api(`${base()}/${k}`)));
    if (gen !== state.generation) return false;
    answers.forEach((r, i) => {
      if (r.status === 200 && r.body && Array.isArray(r.body[kinds[i]])) {
        state.defs[kinds[i]] = r.body[kinds[i]];
      } else {
        state.defs[kinds[i]] = [];
        showError(`GET ${kinds[i]}: ${messageOf(r)}`);
      }
    });
    return true;
  }

  // A definition's status cell: "ready", or "backfilling 40%" with a progress bar.
  function statusCell(status, progress, detail) {
    const cell = el('td', { class: 'status-cell' },
      el('span', { class: `status ${status}`, 'data-status': status }, status));
    if (typeof progress === 'number') {
      cell.appendChild(el('progress', { max: '1', value: String(progress) }));
      cell.appendChild(document.createTextNode(` ${fmtPercent(progress, 0)}`));
    }
    if (detail) cell.appendChild(el('div', { class: 'muted' }, detail));
    return cell;
  }
  function definitionStatus(d) {
    if (d.status === 'backfilling') {
      return statusCell('backfilling', d.progress, `${fmtNumber(d.events_scanned)} events scanned`);
    }
    return statusCell(d.status || 'unknown');
  }

  function renderComputations() {
    const list = state.defs.computations;
    if (list.length === 0) return fill($('computations'), empty('No computations.'));
    const rows = list.map((c) => el('tr', { 'data-id': c.id },
      el('td', { class: 'mono' }, c.id), el('td', null, c.name || ''), el('td', null, c.type),
      el('td', null, c.event_type, c.property ? ` · ${c.property}` : ''),
      el('td', null, c.window_days ? `${c.window_days} days` : 'all time'),
      definitionStatus(c)));
    fill($('computations'),
      table(['id', 'name', 'type', 'event · property', 'window', 'status'], rows, { id: 'computations-table' }));
  }

  function renderCohorts(latestSizes) {
    const list = state.defs.cohorts;
    if (list.length === 0) return fill($('cohorts'), empty('No cohorts.'));
    const rows = list.map((c) => {
      const clauses = c.definition && Array.isArray(c.definition.andClauses) ? c.definition.andClauses.length : 0;
      const size = latestSizes && c.id in latestSizes ? fmtNumber(latestSizes[c.id]) : '—';
      return el('tr', { 'data-id': c.id },
        el('td', { class: 'mono' }, c.id), el('td', null, c.name || ''),
        el('td', null, c.static ? 'static (uploaded members)' : `${clauses} condition${clauses === 1 ? '' : 's'}`),
        el('td', { class: 'size' }, size), definitionStatus(c));
    });
    fill($('cohorts'), table(['id', 'name', 'definition', 'size (last sample)', 'status'], rows, { id: 'cohorts-table' }));
  }

  function trainingCell(t) {
    if (!t) return el('td', null, '—');
    const progress = t.status === 'training' ? t.progress : undefined;
    const detail = [];
    if (t.last_trained_at) detail.push(`trained ${fmtTime(t.last_trained_at)}`);
    if (typeof t.users === 'number') detail.push(`${fmtNumber(t.users)} users · ${fmtNumber(t.items)} items`);
    if (t.error) detail.push(t.error);
    if (t.requested) detail.push('training requested');
    return statusCell(t.status, progress, detail.join(' · '));
  }
  function offlineText(t) {
    if (!t || t.offline === undefined) return 'not reported by this server';
    if (t.offline === null) return 'not measured (yet)';
    const o = t.offline;
    return `hit rate@${o.k} ${fmtPercent(o.hit_rate)} · NDCG@${o.k} ${fmtNumber(o.ndcg, 3)} · ${fmtNumber(o.users)} users`;
  }

  function renderRecommendationsTable() {
    const list = state.defs.recommendations;
    if (list.length === 0) return fill($('recommendations'), empty('No recommendations.'));
    const rows = list.map((r) => el('tr', { 'data-id': r.id },
      el('td', { class: 'mono' }, el('a', { href: `#/${encodeURIComponent(state.project)}/recs` }, r.id)),
      el('td', null, r.title || ''),
      el('td', null, r.training && r.training.model ? r.training.model : r.model),
      el('td', null, `${r.item_event} · ${r.item_property}`),
      el('td', null, `${r.control_percentage}%`),
      definitionStatus(r),
      trainingCell(r.training),
      el('td', { class: 'offline' }, offlineText(r.training))));
    fill($('recommendations'), table(['id', 'title', 'model', 'items from', 'control', 'status', 'training', 'offline'], rows,
      { id: 'recommendations-table' }));
  }

  // ---- charts ---------------------------------------------------------------------------------

  // Nice round tick values from 0 to about `max`.
  function ticks(max, count = 4) {
    if (!(max > 0)) return [0, 1];
    const raw = max / count;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    const out = [];
    for (let v = 0; v < max + step * 0.999; v += step) out.push(+v.toPrecision(12));
    return out;
  }

  // Draws a line chart of `series` ([{name, points: [[t seconds, value], ...]}]) into the
  // figure `figure` (keeping its caption): axes, labelled ticks, a path per series, a legend.
  // Tolerates no series, no points and a single point (drawn as a dot).
  function lineChart(figure, series, emptyText) {
    const caption = figure.querySelector('figcaption');
    clear(figure);
    figure.appendChild(caption);
    const W = 560;
    const H = 220;
    const m = { l: 52, r: 14, t: 12, b: 28 };
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img' });
    const points = series.flatMap((s) => s.points);
    let tMin = Math.min(...points.map((p) => p[0]));
    let tMax = Math.max(...points.map((p) => p[0]));
    if (points.length === 0) {
      const now = state.serverNow || Date.now() / 1000;
      tMin = now - 60;
      tMax = now;
    } else if (tMin === tMax) {
      tMin -= 30;
      tMax += 30;
    }
    const yTicks = ticks(Math.max(0, ...points.map((p) => p[1])));
    const yMax = yTicks[yTicks.length - 1];
    const x = (t) => m.l + ((t - tMin) / (tMax - tMin)) * (W - m.l - m.r);
    const y = (v) => H - m.b - (v / yMax) * (H - m.t - m.b);
    for (const v of yTicks) {
      root.appendChild(svg('line', { class: 'grid', x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
      root.appendChild(svg('text', { x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmtCompact(v)));
    }
    // Five time labels at most, each a different second.
    let lastLabel = '';
    for (let i = 0; i <= 4; i++) {
      const t = tMin + ((tMax - tMin) * i) / 4;
      const label = fmtClock(t);
      if (label === lastLabel) continue;
      lastLabel = label;
      root.appendChild(svg('text', { x: x(t), y: H - m.b + 16, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' },
        label));
    }
    root.appendChild(svg('line', { class: 'axis', x1: m.l, x2: m.l, y1: m.t, y2: H - m.b }));
    root.appendChild(svg('line', { class: 'axis', x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }));
    series.forEach((s, i) => {
      if (s.points.length === 0) return;
      const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
      const path = svg('path', {
        class: `series c${i % 8}`, d, 'data-series': s.name, 'data-points': s.points.length,
        'data-times': s.points.map((p) => p[0]).join(','),
      });
      path.appendChild(svg('title', null, s.name));
      root.appendChild(path);
      if (s.points.length === 1) {
        const [p] = s.points;
        root.appendChild(svg('circle', { class: `c${i % 8}`, cx: x(p[0]), cy: y(p[1]), r: 3 }));
      }
    });
    if (points.length === 0) {
      root.appendChild(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'no-data' }, emptyText));
    }
    figure.appendChild(root);
    const legend = el('div', { class: 'legend' });
    series.forEach((s, i) => {
      const last = s.points.length ? s.points[s.points.length - 1][1] : undefined;
      legend.appendChild(el('span', null, el('span', { class: `swatch c${i % 8}` }), s.name,
        last === undefined ? '' : ` (${fmtNumber(last, 1)})`));
    });
    figure.appendChild(legend);
  }

  function chartUnavailable(figure, text) {
    const caption = figure.querySelector('figcaption');
    fill(figure, caption, el('p', { class: 'empty' }, text));
  }

  // Appends `incoming` samples newer than the last of `kept` (an answer may repeat some: one
  // `since` serves both kinds), keeping the newest `max`.
  function appendSamples(kept, incoming, max) {
    const last = kept.length ? kept[kept.length - 1].t : -Infinity;
    for (const sample of incoming || []) if (typeof sample.t === 'number' && sample.t > last) kept.push(sample);
    if (kept.length > max) kept.splice(0, kept.length - max);
  }

  // The query for the samples not fetched yet: this project only, and after the older of the
  // two newest samples kept (a cohort count carries the time its scan began, so it can arrive
  // after rate samples newer than it).
  function statsPath() {
    let path = `/admin/v1/stats?project=${encodeURIComponent(state.project)}`;
    const c = state.stats;
    if (!c || c.project !== state.project) return path;
    const lastRate = c.rates.length ? c.rates[c.rates.length - 1].t : null;
    const lastCohort = c.cohorts.length ? c.cohorts[c.cohorts.length - 1].t : null;
    let since = null;
    if (c.cohortInterval === 0) since = lastRate;
    else if (lastRate !== null && lastCohort !== null) since = Math.min(lastRate, lastCohort);
    if (since !== null) path += `&since=${since}`;
    return path;
  }

  // GET /admin/v1/stats for the samples not fetched yet, merged into state.stats. Starts afresh
  // on another project, or when the server restarted (`started` changed) or its clock went
  // back (`now` did).
  async function loadStats() {
    const project = state.project;
    let path = statsPath();
    let r = await api(path);
    const fresh = (body) => {
      const c = state.stats;
      return !c || c.project !== project || body.started !== c.started ||
        typeof body.now !== 'number' || body.now < c.now;
    };
    if (state.project !== project) return r; // a late answer for a project left: dropped
    if (r.status === 200 && r.body && fresh(r.body) && path.includes('&since=')) {
      state.stats = null;
      path = statsPath();
      r = await api(path);
    }
    if (r.status !== 200 || !r.body || state.project !== project) return r;
    const body = r.body;
    if (fresh(body)) {
      state.stats = { project, started: body.started, now: 0, rates: [], cohorts: [] };
    }
    const c = state.stats;
    c.now = body.now;
    c.rateInterval = body.rates && body.rates.interval_seconds;
    appendSamples(c.rates, body.rates && body.rates.samples, MAX_RATE_SAMPLES);
    const sizes = body.cohort_sizes && body.cohort_sizes[project];
    if (sizes) {
      c.cohortInterval = sizes.interval_seconds;
      appendSamples(c.cohorts, sizes.samples, MAX_COHORT_SAMPLES);
    }
    $('view-overview').setAttribute('data-stats-path', path);
    return r;
  }

  function renderCharts(stats) {
    if (stats.status !== 200 || !stats.body || !state.stats) {
      const text = state.statsMissing
        ? 'Not available on this server (GET /admin/v1/stats: 404).'
        : `GET /admin/v1/stats: ${messageOf(stats)}`;
      chartUnavailable($('rates-chart'), text);
      chartUnavailable($('cohorts-chart'), text);
      return undefined;
    }
    const body = state.stats;
    if (typeof body.now === 'number') {
      state.serverNow = body.now;
      $('server-time').textContent = `server time ${fmtTime(body.now)} UTC`;
    }
    const rates = body.rates;
    const rateSeries = [
      ['events ingested/s', 'events_ingested_per_second'],
      ['profile reads/s', 'profile_reads_per_second'],
      ['requests/s', 'requests_per_second'],
    ].map(([name, key]) => ({ name, points: rates.filter((s) => typeof s[key] === 'number').map((s) => [s.t, s[key]]) }));
    lineChart($('rates-chart'), rateSeries, 'No samples yet');
    const sizes = { interval_seconds: body.cohortInterval, samples: body.cohorts };
    if (sizes.interval_seconds === 0) {
      chartUnavailable($('cohorts-chart'), 'Cohort sizes are not sampled on this server ([console] cohort_sample_seconds = 0).');
      return undefined;
    }
    const ids = [];
    for (const s of sizes.samples) for (const id of Object.keys(s.sizes || {})) if (!ids.includes(id)) ids.push(id);
    const cohortSeries = ids.map((id) => ({
      name: id,
      points: sizes.samples.filter((s) => s.sizes && id in s.sizes).map((s) => [s.t, s.sizes[id]]),
    }));
    lineChart($('cohorts-chart'), cohortSeries, ids.length ? 'No samples yet' : 'No cohort samples yet');
    const last = sizes.samples[sizes.samples.length - 1];
    return last ? last.sizes : undefined;
  }

  // ---- overview ---------------------------------------------------------------------------------

  async function refreshOverview(gen) {
    try {
      // A server without the stats endpoint is asked once per visit of the overview.
      const asked = state.statsMissing ? Promise.resolve({ status: 404, body: null }) : loadStats();
      const [ok, stats] = await Promise.all([loadDefinitions(gen), asked]);
      // An unknown project (removed by a reload) is a 404 too, but the endpoint is there.
      state.statsMissing = stats.status === 404 &&
        !(stats.body && typeof stats.body.error === 'string' && stats.body.error.startsWith('Unknown project'));
      if (!ok || gen !== state.generation) return;
      const latest = renderCharts(stats);
      renderComputations();
      renderCohorts(latest);
      renderRecommendationsTable();
      $('view-overview').setAttribute('data-loaded', String(Date.now()));
    } catch (e) {
      if (e instanceof SignedOut) return;
      if (gen === state.generation) showError(`Could not load the overview: ${e.message}`);
    }
    if (gen === state.generation && !document.hidden) {
      state.timer = setTimeout(() => refreshOverview(gen), REFRESH_MS);
    }
  }

  // ---- profile lookup -------------------------------------------------------------------------

  async function enterLookup(gen) {
    try {
      await loadDefinitions(gen); // names of computations and cohorts
    } catch (e) {
      if (!(e instanceof SignedOut)) showError(e.message);
    }
  }

  function kvTable(obj, id) {
    const keys = Object.keys(obj || {});
    if (keys.length === 0) return empty('None.');
    return table(['property', 'value'],
      keys.map((k) => el('tr', { 'data-key': k }, el('td', { class: 'mono' }, k), el('td', { class: 'value' }, valueText(obj[k])))),
      { id });
  }

  function renderLookup(u) {
    const compNames = new Map(state.defs.computations.map((c) => [String(c.id), c.name]));
    const cohortNames = new Map(state.defs.cohorts.map((c) => [c.id, c.name]));
    const out = [];
    out.push(el('div', { class: 'card ids', id: 'lookup-ids' },
      el('span', null, el('b', null, 'amplitude_id'), el('span', { 'data-field': 'amplitude_id' }, valueText(u.amplitude_id))),
      el('span', null, el('b', null, 'user_id'), el('span', { 'data-field': 'user_id' }, u.user_id == null ? '—' : valueText(u.user_id))),
      el('span', null, el('b', null, 'device_id'), el('span', { 'data-field': 'device_id' }, u.device_id == null ? '—' : valueText(u.device_id)))));
    out.push(el('div', { class: 'grid2' },
      el('div', null, el('h3', null, 'User properties'), el('div', { class: 'card' }, kvTable(u.user_properties, 'user-properties'))),
      el('div', null, el('h3', null, 'Built-in fields'), el('div', { class: 'card' }, kvTable(u.amp_props, 'amp-props')))));

    const computed = Object.entries(u.computed_properties || {});
    const cohorts = u.cohort_ids || [];
    out.push(el('div', { class: 'grid2' },
      el('div', null, el('h3', null, 'Computed values'), el('div', { class: 'card' },
        computed.length === 0 ? empty('None.') : table(['id', 'name', 'value'], computed.map(([id, v]) =>
          el('tr', { 'data-key': id }, el('td', { class: 'mono' }, id), el('td', null, compNames.get(id) || ''),
            el('td', { class: 'value' }, valueText(v)))), { id: 'computed-properties' }))),
      el('div', null, el('h3', null, 'Cohorts'), el('div', { class: 'card' },
        cohorts.length === 0 ? empty('In no cohort.') : el('div', { class: 'chips', id: 'cohort-ids' },
          cohorts.map((id) => el('span', { class: 'chip', 'data-id': id }, id,
            cohortNames.get(id) ? ` · ${cohortNames.get(id)}` : '')))))));

    const recs = u.recommendations || [];
    out.push(el('h3', null, 'Recommendations'), el('div', { class: 'card' },
      recs.length === 0 ? empty('None served.') : table(['rec_id', 'group', 'type', 'items'], recs.map((r) =>
        el('tr', { 'data-key': r.rec_id },
          el('td', { class: 'mono' }, r.rec_id),
          el('td', null, el('span', { class: r.is_control ? 'chip control' : 'chip' }, r.is_control ? 'control' : 'treatment')),
          el('td', null, valueText(r.recommendation_type)),
          el('td', { class: 'items' }, el('div', { class: 'chips' }, (r.items || []).map((i) => el('span', { class: 'chip item' }, valueText(i))))))),
      { id: 'lookup-recs' })));

    const groups = Object.entries(u.groups || {});
    if (groups.length > 0) {
      const gp = u.group_properties || {};
      out.push(el('h3', null, 'Groups'), el('div', { class: 'card' }, table(['type', 'names', 'properties'],
        groups.map(([type, names]) => el('tr', { 'data-key': type }, el('td', { class: 'mono' }, type),
          el('td', null, (names || []).map(valueText).join(', ')),
          el('td', { class: 'value' }, valueText(gp[type] || {})))), { id: 'lookup-groups' })));
    }

    const events = u.recent_events || [];
    out.push(el('h3', null, 'Recent events',
      el('span', { class: 'muted' }, ` · ${events.length} shown, ${fmtNumber(u.events_scanned)} log entries scanned` +
        (u.truncated ? ' (stopped at the cap: the oldest of the window only; ask for fewer hours)' : ''))));
    out.push(el('div', { class: 'card' }, events.length === 0 ? empty('No events in this window.') :
      table(['time (UTC)', 'event_type', 'event_properties', 'user_properties', 'insert_id'], events.map((e) =>
        el('tr', { class: 'event' },
          el('td', { class: 'mono' }, fmtTime(e.time, true)),
          el('td', { class: 'event-type' }, valueText(e.event_type)),
          el('td', { class: 'value' }, valueText(e.event_properties || {})),
          el('td', { class: 'value' }, valueText(e.user_properties || {})),
          el('td', { class: 'mono' }, valueText(e.insert_id ?? '')))), { id: 'recent-events' })));
    return out;
  }

  async function lookup() {
    const gen = state.generation;
    const kind = $('lookup-kind').value;
    const id = $('lookup-id').value;
    const hours = $('lookup-hours').value || '24';
    const result = $('lookup-result');
    fill(result, el('p', { class: 'muted' }, 'Looking up…'));
    const q = new URLSearchParams({ [kind]: id, events_hours: hours });
    try {
      const r = await api(`${base()}/users?${q}`);
      if (gen !== state.generation) return;
      if (r.status === 200 && r.body) {
        fill(result, renderLookup(r.body));
        result.setAttribute('data-loaded', `${kind}=${id}`);
      } else if (r.status === 404 && r.body && r.body.error === 'No such user') {
        fill(result, el('p', { class: 'empty', id: 'lookup-none' }, `No such user: ${kind} ${id}`));
      } else if (r.status === 404) {
        fill(result, el('p', { class: 'empty', id: 'lookup-none' }, `Profile lookup is not available on this server (${messageOf(r)}).`));
      } else if (r.status === 429) {
        fill(result, el('p', { class: 'error' }, `The server is busy: try again in ${r.retryAfter || 'a few'} s.`));
      } else {
        fill(result, el('p', { class: 'error' }, messageOf(r)));
      }
    } catch (e) {
      if (!(e instanceof SignedOut)) fill(result, el('p', { class: 'error' }, e.message));
    }
  }

  // ---- recommendations: offline figures and the online report --------------------------------------

  async function renderRecs(gen) {
    const host = $('recs-list');
    try {
      if (!(await loadDefinitions(gen))) return;
    } catch (e) {
      if (!(e instanceof SignedOut)) showError(e.message);
      return;
    }
    const recs = state.defs.recommendations;
    if (recs.length === 0) return fill(host, empty('This project has no recommendations.'));
    fill(host, recs.map(recCard));
  }

  function figure(label, value, attrs) {
    return el('div', { class: 'figure', ...attrs }, el('b', null, value), el('span', null, label));
  }

  function recCard(r) {
    const t = r.training || {};
    const o = t.offline;
    const offline = o === undefined
      ? empty('Offline figures are not reported by this server.')
      : o === null
        ? empty('Offline figures: not measured yet, or not measurable (fewer than 2 users with 2 or more items).')
        : el('div', { class: 'figures', 'data-offline': 'yes' },
          figure(`hit rate@${o.k}`, fmtPercent(o.hit_rate), { 'data-figure': 'hit_rate' }),
          figure(`NDCG@${o.k}`, fmtNumber(o.ndcg, 3), { 'data-figure': 'ndcg' }),
          figure('users measured', fmtNumber(o.users)),
          figure('held out', valueText(o.holdout || '')));
    const conversion = el('input', { name: 'conversion_event', placeholder: 'conversion event, e.g. Purchase', required: 'required' });
    const days = el('input', { name: 'days', type: 'number', min: '1', max: '90', value: '7', class: 'narrow' });
    const result = el('div', { class: 'report-result' });
    const form = el('form', { class: 'inline-form report-form' },
      el('label', null, 'Conversion event'), conversion,
      el('label', null, 'over the last'), days, el('span', null, 'days'),
      el('button', { type: 'submit' }, 'Report'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      report(r.id, conversion.value, days.value, result);
    });
    return el('div', { class: 'card rec', 'data-rec': r.id },
      el('h3', null, r.id, r.title ? ` · ${r.title}` : ''),
      el('p', { class: 'muted' }, `${(t && t.model) || r.model} on ${r.item_event} · ${r.item_property}; control group ${r.control_percentage}%; `,
        `training ${t.status || '—'}`, t.last_trained_at ? `, last trained ${fmtTime(t.last_trained_at)} UTC` : ''),
      el('h3', null, 'Offline (held-out interactions)'), offline,
      el('h3', null, 'Online (exposures and conversions)'), form, result);
  }

  async function report(recId, conversionEvent, days, result) {
    const gen = state.generation;
    fill(result, el('p', { class: 'muted' }, 'Scanning the event log…'));
    const q = new URLSearchParams({ conversion_event: conversionEvent, days: days || '7' });
    try {
      const r = await api(`${base()}/recommendations/${encodeURIComponent(recId)}/report?${q}`);
      if (gen !== state.generation) return;
      if (r.status === 200 && r.body) {
        fill(result, reportView(r.body));
        result.setAttribute('data-loaded', conversionEvent);
      } else if (r.status === 404 || r.status === 405) {
        fill(result, el('p', { class: 'empty report-unavailable' }, `The online report is not available (${messageOf(r)}).`));
      } else if (r.status === 429) {
        fill(result, el('p', { class: 'error' }, `The server is busy: try again in ${r.retryAfter || 'a few'} s.`));
      } else {
        fill(result, el('p', { class: 'error' }, messageOf(r)));
      }
    } catch (e) {
      if (!(e instanceof SignedOut)) fill(result, el('p', { class: 'error' }, e.message));
    }
  }

  function reportView(b) {
    const row = (name, g) => el('tr', { 'data-group': name }, el('td', null, name),
      el('td', { class: 'users' }, fmtNumber(g.users)), el('td', { class: 'exposures' }, fmtNumber(g.exposures)),
      el('td', { class: 'converted' }, fmtNumber(g.converted_users)), el('td', { class: 'rate' }, fmtPercent(g.conversion_rate)));
    const lift = typeof b.lift === 'number' ? `${b.lift >= 0 ? '+' : ''}${(b.lift * 100).toFixed(1)}%` : 'n/a';
    const liftClass = typeof b.lift === 'number' ? (b.lift >= 0 ? 'lift up' : 'lift down') : 'lift';
    return el('div', { class: 'report' },
      el('div', { class: 'figures' },
        figure('lift (treatment vs control)', el('span', { class: liftClass, 'data-lift': String(b.lift) }, lift)),
        figure('conversion event', valueText(b.conversion_event)),
        figure('since (UTC)', fmtTime(b.since)),
        figure('log entries scanned', fmtNumber(b.events_scanned))),
      table(['group', 'users', 'exposures', 'converted users', 'conversion rate'],
        [row('control', b.control || {}), row('treatment', b.treatment || {})], { class: 'report-table' }),
      b.lift === null ? el('p', { class: 'muted' }, 'No lift: the control group has no users or no conversions.') : null,
      b.truncated ? el('p', { class: 'muted' }, 'Partial: the scan stopped at its cap of log entries (the oldest of the window only); ask for fewer days.') : null);
  }

  // ---- start ----------------------------------------------------------------------------------

  document.addEventListener('DOMContentLoaded', async () => {
    $('sign-in-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      $('sign-in-error').textContent = '';
      try {
        await signIn($('token').value);
      } catch (err) {
        $('sign-in-error').textContent = `Could not reach the server: ${err.message}`;
      }
    });
    $('sign-out').addEventListener('click', () => signOut(''));
    $('lookup-form').addEventListener('submit', (e) => {
      e.preventDefault();
      lookup();
    });
    window.addEventListener('hashchange', () => {
      if (state.projects) route();
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && state.projects && state.view === 'overview') route();
    });
    if (!state.token) return showSignIn('');
    try {
      const r = await api('/admin/v1/projects');
      takeProjects(r);
      startApp();
    } catch (e) {
      if (!(e instanceof SignedOut)) showSignIn(`Could not reach the server: ${e.message}`);
    }
  });
})();
