// Opens a workshop's class page in headless Chromium, sends one more submission while it is
// open, and checks the page shows it by itself (server-sent events), with the chart of
// predictions against results; saves a full-page screenshot. Exits 1 with the problems found.
//
//   node check-workshop.mjs CLASS_PAGE_URL SUBMISSIONS_URL SUBMISSION.json SCREENSHOT.png
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';

const [pageUrl, postUrl, bodyFile, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
         '--disable-component-update', '--disable-sync'],
});
const problems = [];
const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
await page.goto(pageUrl);
const rows = async () => {
  try { return await page.locator('#submissions tr').count(); } catch { return -1; }
};
const before = await rows();
// Give the page's event stream a moment to connect before the new submission arrives.
await page.waitForTimeout(500);
const resp = await fetch(postUrl, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: readFileSync(bodyFile),
});
if (resp.status !== 201) problems.push(`the submission was answered ${resp.status}`);
let seen = false;
for (let i = 0; i < 100 && !seen; i++) {
  await page.waitForTimeout(100);
  try {
    seen = (await page.locator('#submissions').textContent()).includes('Barbara');
  } catch { /* the page is reloading */ }
}
if (!seen) problems.push('the new submission did not appear on the open class page');
const after = await rows();
if (seen && after !== before + 1) problems.push(`rows went from ${before} to ${after}`);
const dots = await page.locator('#chart circle').count();
if (dots < 1) problems.push('the chart of predictions against results has no points');
const box = await page.locator('#chart').boundingBox();
if (!box || box.width < 600) problems.push('the chart is too narrow for a projector');
await page.screenshot({ path: shot, fullPage: true });
await browser.close();
for (const p of problems) console.log(p);
process.exit(problems.length ? 1 : 0);
