// The browser tests' chromium: Debian's (never a browser of playwright's
// own), headless, in a throw-away profile, with test names resolved to
// loopback (--host-resolver-rules), so origin mode's wildcard names need
// no DNS.  Shared by origin_isolation.js and app_members.js.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

// fn(ctx) in a fresh browser; the browser and its profile are removed
// afterwards, whatever happened.  rules: the host resolver rules.
async function withChromium(rules, fn) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'klangk-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=' + rules],
  });
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

// Run main; a failure is printed and exits 1.
function run(main) {
  main().catch((e) => {
    console.error('browser: ' + (e && e.stack ? e.stack : e));
    process.exit(1);
  });
}

module.exports = { withChromium, run };
