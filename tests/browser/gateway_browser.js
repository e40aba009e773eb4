// Drives Debian's chromium (headless, through playwright-core; never a
// browser of playwright's own) against the gateway's page, for
// tests/e2e/test_gateway_browser.sh.  Prints one line per step; exits 1 at
// the first failed expectation, with what the page showed.
//
// Environment: GW (the gateway's URL), GWLOG (its log), HOSTILE (the hosted app's page,
// served through nginx), ALICE_PW and BOB_PW, NS (alice), RUN (a running
// workspace of alice's, shared with bob), STOPPED (a stopped one).
'use strict';
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set`);
  return process.env[k];
};
const GW = env('GW'), NS = env('NS'), RUN = env('RUN'), STOPPED = env('STOPPED');
const step = (s) => console.log('browser: ' + s);
function expect(ok, what, detail) {
  if (!ok) throw new Error(`${what}${detail === undefined ? '' : ': ' + JSON.stringify(detail)}`);
  step('ok: ' + what);
}

async function signIn(page, user, pw) {
  await page.goto(GW + '/');
  await page.fill('[data-testid=user]', user);
  await page.fill('[data-testid=password]', pw);
  await page.click('[data-testid=signin]');
  await page.waitForSelector('[data-testid=who]:has-text("signed in as ' + user + '")');
}

const row = (page, table, ws) =>
  page.locator(`[data-testid=${table}] tr[data-workspace="${NS}/${ws}"]`);

// The terminal's text as xterm.js's DOM renderer shows it.
const screen = (page) => page.locator('.xterm-rows').innerText();

// A request outside any browser, with the headers one likes.
function replay(method, p, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(GW + p, { method, headers }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'klangk-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    await run(ctx);
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

async function run(ctx) {
  const page = await ctx.newPage();
  page.on('console', (m) => step('page console: ' + m.text()));

  // Sign in; the list shows alice's own workspaces.
  await signIn(page, 'alice', env('ALICE_PW'));
  await row(page, 'own', RUN).waitFor();
  await row(page, 'own', STOPPED).waitFor();
  expect(await row(page, 'own', RUN).locator('[data-testid=open]').count() === 1,
    `${RUN} (running) has a terminal button`);
  expect(await row(page, 'own', STOPPED).locator('[data-testid=start]').count() === 1,
    `${STOPPED} (stopped) has a start button`);
  const cookies = await ctx.cookies(GW + '/api/v1/workspaces');
  const c = cookies.find((x) => x.name === 'klangk_session');
  expect(c && c.httpOnly && c.sameSite === 'Strict' && c.path === '/api/',
    'the session cookie is HttpOnly, SameSite=Strict, Path=/api/', c);
  expect(await page.evaluate(() => document.cookie) === '', 'no script sees the cookie');
  const cookie = c.value;

  // A terminal: type a command, read its output from the page.
  await row(page, 'own', RUN).locator('[data-testid=open]').click();
  await page.waitForSelector('[data-testid=term-status]:has-text("connected")');
  await page.locator('.xterm-helper-textarea').focus();
  await page.keyboard.type('echo from-the-browser-$((6*7))\n');
  await page.waitForFunction(() =>
    document.querySelector('.xterm-rows').innerText.includes('from-the-browser-42'),
  null, { timeout: 30000 }).catch(async () => {
    throw new Error('no output in the terminal: ' + await screen(page));
  });
  step('ok: the terminal ran the command and showed its output');
  await page.click('[data-testid=term-close]');

  // The hostile page of a hosted app, in the same browser (so with the
  // visitor's session cookie), tries the gateway.
  const evil = await ctx.newPage();
  const u = new URL(env('HOSTILE'));
  u.search = new URLSearchParams({ gw: GW, ns: NS, ws: STOPPED, run: RUN }).toString();
  await evil.goto(u.toString());
  await evil.waitForSelector('body[data-done="1"]', { timeout: 30000 });
  const got = JSON.parse(await evil.locator('#out').innerText());
  step('hostile page saw: ' + JSON.stringify(got));
  expect(/^error: TypeError/.test(got.fetchList), 'the hostile page cannot read the list', got);
  expect(got.wsExec === 'refused' && got.wsExecGuess === 'refused',
    'the hostile page cannot open a terminal', got);
  await evil.close();
  // Why: each attempt reached the gateway with the cookie and was refused
  // for its Origin (the browser hides the answers from the page; the
  // gateway's log says).
  const origin = new URL(env('HOSTILE')).origin;
  const refusals = fs.readFileSync(env('GWLOG'), 'utf8').split('\n').filter((l) =>
    l.includes('request refused') && l.includes(`Origin ${origin},`) &&
    l.includes('with a page session\'s cookie'));
  expect(refusals.length === 5, 'the gateway refused all 5 attempts for their Origin, ' +
    'though the browser sent the session cookie', refusals);
  const list = await page.evaluate(async (t) => (await (await fetch('/api/v1/workspaces',
    { headers: { 'X-Klangk-CSRF': t } })).json()).items, await page.evaluate(() =>
    sessionStorage.getItem('klangk-csrf')));
  const st = list.find((w) => w.name === STOPPED);
  expect(st && st.running === false, `${STOPPED} is still stopped`, st);

  // The cookie alone, as a hosted app's server sees it (browsers send a
  // host's cookies to all its ports), replayed with any Origin: refused
  // for the missing CSRF token.
  for (const [method, p] of [['GET', '/api/v1/workspaces'],
    ['POST', `/api/v1/namespaces/${NS}/workspaces/${STOPPED}/start`]]) {
    const r = await replay(method, p, { Cookie: 'klangk_session=' + cookie, Origin: GW });
    expect(r.status === 403 && /CSRF/.test(r.body),
      `the cookie without the token is refused (${method} ${p})`, r);
  }

  // The same requests from the gateway's own page succeed.
  const token = await page.evaluate(() => sessionStorage.getItem('klangk-csrf'));
  const own = await page.evaluate(async (t) => {
    const r = await fetch('/api/v1/workspaces', { headers: { 'X-Klangk-CSRF': t } });
    return r.status;
  }, token);
  expect(own === 200, 'the gateway\'s page reads the list with its token', own);
  const noToken = await page.evaluate(async () => {
    const r = await fetch('/api/v1/workspaces');
    return [r.status, (await r.json()).error];
  });
  expect(noToken[0] === 403 && /CSRF/.test(noToken[1]),
    'without its token even the gateway\'s page is refused (CSRF)', noToken);
  await row(page, 'own', STOPPED).locator('[data-testid=start]').click();
  await row(page, 'own', STOPPED).locator('[data-testid=open]').waitFor({ timeout: 120000 });
  step('ok: the start button started the stopped workspace (it shows a terminal button)');

  // Sign out: the cookie and the token are dead.
  step('signing out');
  await page.click('[data-testid=signout]');
  await page.waitForSelector('[data-testid=signin]');
  step('signed out');
  const after = await page.evaluate(async (t) => {
    const r = await fetch('/api/v1/workspaces', { headers: { 'X-Klangk-CSRF': t } });
    return r.status;
  }, token);
  expect(after === 401, 'after sign-out the session is gone', after);

  // bob, a coder member: alice's workspace appears under "shared with me".
  await signIn(page, 'bob', env('BOB_PW'));
  await row(page, 'shared', RUN).waitFor();
  const role = await row(page, 'shared', RUN).locator('td').nth(2).innerText();
  expect(role === 'coder', 'bob sees alice\'s workspace shared with him, as coder', role);
  expect(await page.locator('[data-testid=own] tr').count() === 0, 'bob owns none');
}

main().then(() => step('all passed'), (e) => {
  console.error('browser: FAIL: ' + e.message);
  process.exit(1);
});
