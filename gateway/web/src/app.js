// The gateway's terminal page: sign in with etcd credentials, list the
// workspaces (own and shared), start a stopped one, open a terminal.
//
// Authentication is two secrets (gateway/websess.h): the session cookie,
// HttpOnly so no script reads it, and the CSRF token the sign-in answer
// gives, kept in this origin's sessionStorage and sent with every API
// request: as the X-Klangk-CSRF header, and as the csrf query parameter of
// the terminal's WebSocket (a browser cannot set its headers).
'use strict';
(function () {
  const API = '/api/v1';
  const KEY = 'klangk-csrf';
  const $ = (id) => document.getElementById(id);
  let term = null, socket = null, refresh = null;
  // /app/<id>-<port><path>: nginx sent a visitor of a members-only app
  // here to sign in; once signed in, the gateway hands a one-time ticket
  // that the app's own origin redeems for its cookie (lib/hosting.h).
  const appMatch = location.pathname.match(/^\/app\/([0-9a-f]{12,32}-[0-9]{1,5})(\/.*)?$/);

  function show(id) {
    for (const s of ['signin', 'list', 'terminal']) $(s).hidden = s !== id;
    $('signout').hidden = id === 'signin';
  }
  function error(msg) { $('error').textContent = msg || ''; }

  async function api(method, path, body) {
    const headers = { 'X-Klangk-CSRF': sessionStorage.getItem(KEY) || '' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(API + path, {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const j = await r.json().catch(() => ({}));
    if (r.status === 401) {
      sessionStorage.removeItem(KEY);
      signinPage();
      throw new Error(j.error || 'sign in again');
    }
    if (!r.ok) throw new Error(j.error || r.statusText);
    return j;
  }

  function signinPage() {
    stopRefresh();
    $('who').textContent = '';
    show('signin');
  }

  function stopRefresh() {
    if (refresh) clearTimeout(refresh);
    refresh = null;
  }

  function row(w) {
    const tr = document.createElement('tr');
    tr.dataset.workspace = w.namespace + '/' + w.name;
    const cells = [w.namespace + '/' + w.name, w.state || '-', w.role];
    for (const c of cells) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.appendChild(td);
    }
    const td = document.createElement('td');
    const b = document.createElement('button');
    if (w.state === 'Running') {
      b.textContent = 'Terminal';
      b.dataset.testid = 'open';
      b.onclick = () => openTerminal(w);
    } else {
      b.textContent = 'Start';
      b.dataset.testid = 'start';
      b.onclick = () => start(w, b);
    }
    td.appendChild(b);
    tr.appendChild(td);
    return tr;
  }

  async function listPage() {
    stopRefresh();
    const j = await api('GET', '/workspaces');
    $('who').textContent = j.user ? 'signed in as ' + j.user : 'etcd authentication is off';
    const own = document.querySelector('[data-testid=own] tbody');
    const shared = document.querySelector('[data-testid=shared] tbody');
    own.replaceChildren(...j.items.filter((w) => !w.shared).map(row));
    shared.replaceChildren(...j.items.filter((w) => w.shared).map(row));
    if (!$('terminal').hidden) return;
    show('list');
    // A workspace on its way up or down: look again shortly.
    if (j.items.some((w) => w.running !== (w.state === 'Running')))
      refresh = setTimeout(() => listPage().catch((e) => error(e.message)), 2000);
  }

  async function start(w, button) {
    button.disabled = true;
    error('');
    try {
      await api('POST', `/namespaces/${w.namespace}/workspaces/${w.name}/start`);
      await listPage();
    } catch (e) {
      error(e.message);
      button.disabled = false;
    }
  }

  function send(channel, bytes) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    const m = new Uint8Array(bytes.length + 1);
    m[0] = channel;
    m.set(bytes, 1);
    socket.send(m);
  }

  function openTerminal(w) {
    stopRefresh();
    closeTerminal();
    show('terminal');
    $('term-title').textContent = w.namespace + '/' + w.name;
    $('term-status').textContent = 'connecting';
    term = new Terminal({ cursorBlink: true });
    const fit = new FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open($('term'));
    fit.fit();
    const q = new URLSearchParams({
      tty: '1', rows: String(term.rows), cols: String(term.cols), term: 'xterm-256color',
      csrf: sessionStorage.getItem(KEY) || '',
    });
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(`${proto}//${location.host}${API}/namespaces/${w.namespace}` +
      `/workspaces/${w.name}/exec?${q}`);
    socket.binaryType = 'arraybuffer';
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    socket.onopen = () => { $('term-status').textContent = 'connected'; term.focus(); };
    socket.onmessage = (ev) => {
      const m = new Uint8Array(ev.data);
      if (m[0] === 1 || m[0] === 2) term.write(m.subarray(1));
      else if (m[0] === 3) {
        const end = JSON.parse(dec.decode(m.subarray(1)));
        $('term-status').textContent = end.error ? 'ended: ' + end.error
          : 'exited with status ' + end.exitCode;
      }
    };
    socket.onclose = () => {
      if ($('term-status').textContent === 'connecting')
        $('term-status').textContent = 'refused (see the gateway\'s log)';
    };
    term.onData((d) => send(0, enc.encode(d)));
    term.onResize(({ rows, cols }) => send(4, enc.encode(JSON.stringify({ rows, cols }))));
    window.onresize = () => fit.fit();
  }

  function closeTerminal() {
    if (socket) socket.close();
    if (term) term.dispose();
    socket = term = null;
    window.onresize = null;
  }

  // The way back to the app: the gateway checks, as the signed-in user,
  // that they may read the app's workspace, and answers the callback URL.
  async function openApp() {
    $('app-note').hidden = false;
    $('app-name').textContent = appMatch[1];
    const path = (appMatch[2] || '/') + location.search;
    const j = await api('POST', '/app/ticket', { app: appMatch[1], path });
    location.replace(j.url);
  }
  function signedIn() {
    return appMatch ? openApp() : listPage();
  }

  $('signin-form').onsubmit = async (ev) => {
    ev.preventDefault();
    error('');
    const f = new FormData(ev.target);
    const r = await fetch(API + '/signin', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: f.get('user'), password: f.get('password') }),
    });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) return error(j.error || r.statusText);
    sessionStorage.setItem(KEY, j.csrf);
    ev.target.reset();
    signedIn().catch((e) => error(e.message));
  };
  $('signout').onclick = async () => {
    closeTerminal();
    try { await api('POST', '/signout'); } catch (e) { /* signed out either way */ }
    sessionStorage.removeItem(KEY);
    signinPage();
  };
  $('term-close').onclick = () => {
    closeTerminal();
    show('list');
    listPage().catch((e) => error(e.message));
  };

  if (appMatch) {
    $('app-note').hidden = false;
    $('app-name').textContent = appMatch[1];
  }
  if (sessionStorage.getItem(KEY)) signedIn().catch((e) => error(e.message));
  else signinPage();
})();
