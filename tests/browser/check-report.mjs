// Opens a perflab report.html in headless Chromium, saves a full-page screenshot, and checks
// what a reader sees: every chart has axis labels and tick values, no text or point is cut off
// by its chart, legends do not sit on the data, pass and fail look different, and the
// environment is a table. Prints the problems found and exits 1 if there are any.
//
//   node check-report.mjs REPORT.html SCREENSHOT.png
import { chromium } from 'playwright-core';

const [report, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
         '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
await page.goto('file://' + report);
await page.screenshot({ path: shot, fullPage: true });

const problems = await page.evaluate(() => {
  const out = [];
  const inside = (inner, outer) =>
    inner.left >= outer.left - 1 && inner.right <= outer.right + 1 &&
    inner.top >= outer.top - 1 && inner.bottom <= outer.bottom + 1;
  const overlap = (a, b) =>
    a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const svgs = [...document.querySelectorAll('svg')];
  if (svgs.length < 3) out.push(`only ${svgs.length} charts`);
  svgs.forEach((svg, i) => {
    const box = svg.getBoundingClientRect();
    const name = svg.closest('body').querySelectorAll('h2')[0] ? `chart ${i + 1}` : `chart ${i + 1}`;
    const axes = svg.querySelectorAll('text.axis');
    const ticks = svg.querySelectorAll('text.tick');
    if (axes.length < 2) out.push(`${name}: ${axes.length} axis labels`);
    if (ticks.length < 4) out.push(`${name}: only ${ticks.length} tick labels`);
    for (const t of svg.querySelectorAll('text, circle')) {
      if (!inside(t.getBoundingClientRect(), box)) out.push(`${name}: "${t.textContent.slice(0, 30)}" is cut off`);
    }
    const plot = svg.querySelector('rect[fill="#fafafa"]').getBoundingClientRect();
    for (const l of svg.querySelectorAll('text.legend')) {
      if (overlap(l.getBoundingClientRect(), plot)) out.push(`${name}: legend "${l.textContent}" covers the plot`);
    }
  });
  const colour = (sel) => {
    const e = document.querySelector(sel);
    return e && getComputedStyle(e).color;
  };
  const pass = colour('.pass'), fail = colour('.fail');
  if (!pass || !fail) out.push('the report should show a passing and a failing threshold');
  else if (pass === fail) out.push('pass and fail look the same');
  if (![...document.querySelectorAll('table th')].some((th) => th.textContent === 'kernel'))
    out.push('the environment is not a table');
  return out;
});
await browser.close();
for (const p of problems) console.log('problem: ' + p);
process.exit(problems.length ? 1 : 0);
