// Drives Debian's chromium (headless, through playwright-core; never a
// browser of playwright's own) for tests/e2e/test_proxy_origin_browser.sh:
// a visitor signs in to app B (B sets its session cookie), then opens app A,
// whose hostile page tries to read B's secret with the visitor's cookies
// (fetch with credentials, and an iframe's document).  Prints one JSON
// line: what the hostile page got.
//
//   node origin_isolation.js LOGIN_URL HOSTILE_URL
//
// Names under *.apps.test resolve to 127.0.0.1 (--host-resolver-rules), so
// origin mode's wildcard names need no DNS.
'use strict';
const { withChromium, run } = require('./chromium');

async function main() {
  const [login, hostile] = process.argv.slice(2);
  if (!login || !hostile) throw new Error('usage: origin_isolation.js LOGIN_URL HOSTILE_URL');
  await withChromium('MAP *.apps.test 127.0.0.1', async (ctx) => {
    const page = await ctx.newPage();
    const r = await page.goto(login);
    if (!r || r.status() !== 200) throw new Error(`sign-in at B: HTTP ${r && r.status()}`);
    await page.goto(hostile);
    try {
      await page.waitForFunction(() => window.klangkResult !== undefined, null, { timeout: 20000 });
    } catch (e) {
      const step = await page.evaluate(() => window.klangkStep).catch(() => 'unknown');
      throw new Error(`the hostile page did not finish (at step ${step}, url ${page.url()}): ${e.message}`);
    }
    const got = await page.evaluate(() => window.klangkResult);
    got.hostileOrigin = await page.evaluate(() => location.origin);
    console.log(JSON.stringify(got));
  });
}

run(main);
