#!/usr/bin/env node
// Screenshot an HTML file in Debian's chromium (how docs/html-report.png was made):
//   node bin/lsptap demo --rounds 4 --log /tmp/demo.jsonl
//   node bin/lsptap report --html /tmp/demo.html /tmp/demo.jsonl
//   node scripts/screenshot-html.js /tmp/demo.html docs/html-report.png
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { chromium } = require('playwright-core');

async function main() {
  const [html, png] = process.argv.slice(2);
  if (!html || !png) { process.stderr.write('usage: screenshot-html.js FILE.html OUT.png\n'); process.exit(2); }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lsptap-shot-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = context.pages()[0] || await context.newPage();
    await page.goto(pathToFileURL(path.resolve(html)).href);
    await page.waitForSelector('body[data-rendered="true"]', { timeout: 15000 });
    await page.screenshot({ path: png, fullPage: true });
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
main().catch((err) => { process.stderr.write(`${err.stack || err}\n`); process.exit(1); });
