// Drives Debian's chromium (headless, through playwright-core) for
// tests/e2e/test_app_members.sh: a visitor opens a members-only app, is
// sent to the gateway's sign-in page, signs in there, and comes back to
// the app (or is refused).  Prints one JSON line: where the browser ended,
// what the page said, and the cookies the browser holds for the app's
// origin.
//
//   node app_members.js APP_URL USER PASSWORD
//
// *.apps.test and gw.test resolve to 127.0.0.1 (--host-resolver-rules).
'use strict';
const { withChromium, run } = require('./chromium');

async function main() {
  const [app, user, password] = process.argv.slice(2);
  if (!app || !user) throw new Error('usage: app_members.js APP_URL USER PASSWORD');
  const out = {};
  await withChromium('MAP *.apps.test 127.0.0.1, MAP gw.test 127.0.0.1', async (ctx) => {
    const page = await ctx.newPage();
    await page.goto(app);
    // Anonymous: nginx sent the browser to the gateway's page for this app.
    out.signinAt = new URL(page.url()).host + new URL(page.url()).pathname;
    out.note = await page.getByTestId('app-note').innerText();
    await page.getByTestId('user').fill(user);
    await page.getByTestId('password').fill(password);
    await page.getByTestId('signin').click();
    const appOrigin = new URL(app).origin;
    await Promise.race([
      page.waitForURL((u) => u.origin === appOrigin, { timeout: 20000 }),
      page.waitForFunction(() => document.querySelector('[data-testid=error]')
        .textContent !== '', null, { timeout: 20000 }),
    ]);
    out.url = page.url();
    out.body = await page.evaluate(() => document.body.innerText);
    out.error = new URL(page.url()).origin === appOrigin ? ''
      : await page.getByTestId('error').innerText();
    // What the browser keeps for the app's origin (HttpOnly included),
    // and what a script of the app can read: nothing of the app cookie.
    out.cookies = (await ctx.cookies(appOrigin)).map((c) => ({
      name: c.name, domain: c.domain, path: c.path, httpOnly: c.httpOnly,
      sameSite: c.sameSite, secure: c.secure,
    }));
    if (new URL(page.url()).origin === appOrigin)
      out.documentCookie = await page.evaluate(() => document.cookie);
    out.gatewayCookies = (await ctx.cookies()).filter((c) => c.name === 'klangk_session')
      .map((c) => c.domain + c.path);
    console.log(JSON.stringify(out));
  });
}

run(main);
