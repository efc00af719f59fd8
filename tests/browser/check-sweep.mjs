// Opens a perflab sweep.html in headless Chromium, saves a full-page screenshot, and checks
// what a reader sees on a projector: three curves, each with axis labels and tick values;
// nothing cut off by its chart; legends above the data, never on it; interval bands under the
// measured lines; the fitted USL drawn dashed and named in the legend; a point's ticks are the
// swept values. Prints the problems found and exits 1 if there are any.
//
//   node check-sweep.mjs SWEEP.html SCREENSHOT.png
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
  if (svgs.length !== 3) out.push(`${svgs.length} charts, expected 3 (throughput, p99, hockey stick)`);
  svgs.forEach((svg, i) => {
    const name = `chart ${i + 1}`;
    const box = svg.getBoundingClientRect();
    if (box.width < 600) out.push(`${name} is ${box.width}px wide: too narrow for a projector`);
    if (svg.querySelectorAll('text.axis').length < 2) out.push(`${name}: missing an axis label`);
    const ticks = [...svg.querySelectorAll('text.tick')];
    if (ticks.length < 4) out.push(`${name}: only ${ticks.length} tick labels`);
    for (const t of ticks) {
      if (parseFloat(getComputedStyle(t).fontSize) < 10) out.push(`${name}: tick "${t.textContent}" smaller than 10px`);
    }
    for (const t of svg.querySelectorAll('text, circle')) {
      if (!inside(t.getBoundingClientRect(), box)) out.push(`${name}: "${t.textContent.slice(0, 30)}" is cut off`);
    }
    const plot = svg.querySelector('rect[fill="#fafafa"]').getBoundingClientRect();
    for (const l of svg.querySelectorAll('text.legend')) {
      if (overlap(l.getBoundingClientRect(), plot)) out.push(`${name}: legend "${l.textContent}" covers the plot`);
    }
    if (svg.querySelectorAll('polyline').length < 2) out.push(`${name}: fewer than two lines`);
    if (i < 2 && svg.querySelectorAll('polygon').length < 1) out.push(`${name}: no interval band`);
  });
  if (svgs[0]) {
    const dashed = svgs[0].querySelectorAll('polyline[stroke-dasharray]');
    if (dashed.length < 1) out.push('the throughput chart has no dashed USL fit');
    const legends = [...svgs[0].querySelectorAll('text.legend')].map((l) => l.textContent);
    if (!legends.some((l) => l.includes('USL fit'))) out.push('the USL fit is not named in the legend');
  }
  const text = document.body.innerText;
  for (const needle of ['contention σ', 'Levels', "Each point's report"]) {
    if (!text.includes(needle)) out.push(`the page does not say "${needle}"`);
  }
  return out;
});
await browser.close();
if (problems.length) {
  console.log(problems.join('\n'));
  process.exit(1);
}
console.log(`ok: ${report} (screenshot ${shot})`);
