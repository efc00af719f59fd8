// Opens a workshop's projector view in headless Chromium while a lab runs with --join, and
// checks it streams: rounds drawn per variant as they run (throughput and latency), the
// current round named, then the verdict once the report arrives. A fake run with markup in
// its student's name is posted first: it must show as text, never as markup. Screenshots of
// the run in progress and of the verdict. Prints "ready" once the page listens (the caller
// then starts the lab); exits 1 with the problems found.
//
//   node check-projector.mjs PROJECTOR_URL STUDENT RUNNING.png DONE.png
import { chromium } from 'playwright-core';

const [pageUrl, student, runningShot, doneShot] = process.argv.slice(2);
const base = pageUrl.replace(/\/projector$/, '');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
         '--disable-component-update', '--disable-sync'],
});
const problems = [];
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
page.on('pageerror', e => problems.push(`the page's script failed: ${e.message}`));
await page.goto(pageUrl);
await page.waitForTimeout(500);

// A hostile name, streamed like a run: shown as text.
const evil = '<img src=x onerror="document.title=\'owned\'">';
const resp = await fetch(base + '/live', {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ run: 'fake', student: evil, lab: 'lock-contention', variants: ['a'],
                         events: [{ kind: 'round', at: 0, variant: 'a', label: 'a 1/1',
                                    measured: true, seconds: 1 }] }),
});
if (resp.status !== 204) problems.push(`the fake run was answered ${resp.status}`);
await page.waitForTimeout(300);
if (!(await page.locator('#runs').textContent()).includes(evil)) {
  problems.push('the streamed name is not shown as text');
}
if (await page.locator('img').count() > 0 || (await page.title()) === 'owned') {
  problems.push('a streamed name became markup');
}
console.log('ready');

// The real run: its rounds appear as they run. Wait until a measured round of two variants
// has points (the lab's rounds alternate variants).
const real = async () => (await page.locator('#who').textContent()).endsWith(student);
let live = false;
for (let i = 0; i < 1200 && !live; i++) {
  await page.waitForTimeout(100);
  try {
    const colours = await page.locator('#throughput polyline.measured')
      .evaluateAll(ls => new Set(ls.map(l => l.getAttribute('stroke'))).size);
    live = (await real()) && colours >= 2 && !(await page.locator('#verdict').isVisible());
  } catch { /* not drawn yet */ }
}
if (!live) problems.push('no two variants\' measured rounds appeared while the lab ran');
else {
  const now = await page.locator('#now').textContent();
  if (!now.startsWith('now: ')) problems.push(`the current round is not named: "${now}"`);
  const latency = await page.locator('#latency polyline').count();
  if (latency < 2) problems.push('the latency chart has no rounds');
  const legend = await page.locator('#legend').textContent();
  for (const v of ['global-mutex', 'sharded']) {
    if (!legend.includes(v)) problems.push(`the legend lacks ${v}: "${legend}"`);
  }
  const box = await page.locator('#throughput').boundingBox();
  if (!box || box.width < 800) problems.push('the throughput chart is too narrow for a projector');
  await page.screenshot({ path: runningShot, fullPage: true });
}

// Then the verdict, from the submitted report.
let done = false;
for (let i = 0; i < 1800 && !done; i++) {
  await page.waitForTimeout(100);
  done = await page.locator('#verdict').isVisible();
}
if (!done) problems.push('the verdict did not appear after the run');
else {
  const comparisons = await page.locator('#verdict .comparison').allTextContents();
  const variants = await page.locator('#legend span').count();
  if (variants < 2 || comparisons.length !== variants - 1) {
    problems.push(`${variants} variants, and these comparisons: ${comparisons.join(' | ')}`);
  }
  for (const c of comparisons) {
    if (!/against global-mutex: \S+ [0-9.]+×/.test(c)) problems.push(`a comparison without a ratio: "${c}"`);
  }
  const now = await page.locator('#now').textContent();
  if (now !== 'finished') problems.push(`the run is not shown as finished: "${now}"`);
  await page.screenshot({ path: doneShot, fullPage: true });
}
// A page opened now starts from the board's snapshot and draws the same run.
const fresh = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
await fresh.goto(pageUrl);
await fresh.waitForTimeout(1000);
const drawnHere = await page.locator('#throughput polyline').count();
const drawnThere = await fresh.locator('#throughput polyline').count();
if (drawnHere !== drawnThere) problems.push(`a page opened late drew ${drawnThere} rounds, the open one ${drawnHere}`);
await browser.close();
for (const p of problems) console.log(p);
process.exit(problems.length ? 1 : 0);
