// Opens a perflab report.html in headless Chromium, saves a full-page screenshot, and checks
// what a reader sees: every chart has axis labels and tick values, no text or point is cut off
// by its chart, legends do not sit on the data, pass and fail look different, and the
// environment is a table. Prints the problems found and exits 1 if there are any.
//
//   node check-report.mjs REPORT.html SCREENSHOT.png [FLAME-DIFF.svg]
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
  // Flame graphs (a run with --profile): every image drawn, wide enough to read, and the
  // differential's colours explained next to it.
  const flames = [...document.querySelectorAll('img.flame')];
  for (const img of flames) {
    if (!img.complete || img.naturalWidth === 0) out.push(`flame graph "${img.alt}" did not load`);
    if (img.getBoundingClientRect().width < 800) out.push(`flame graph "${img.alt}" is too narrow to read`);
  }
  if (flames.length && !flames.some((i) => i.alt.startsWith('Differential')))
    out.push('profiles of two variants but no differential flame graph');
  const legend = document.querySelector('p.legend');
  if (flames.length > 1 && !(legend && /Red/.test(legend.textContent) && /Blue/.test(legend.textContent)))
    out.push("the differential flame graph's colours are not explained");
  return { out, flames: flames.length };
});
const found = problems.flames;
const list = problems.out;
// The differential SVG itself, as a reader opens it from the report folder: labels large
// enough to read and inside their frames.
const diff = process.argv[4];
if (diff) {
  const svgPage = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await svgPage.goto('file://' + diff);
  await svgPage.screenshot({ path: shot.replace(/\.png$/, '-flame-diff.png'), timeout: 20000 });
  const labels = await svgPage.evaluate(() => {
    const texts = [...document.querySelectorAll('g text')].filter((t) => t.textContent.length > 2);
    const small = texts.filter((t) => parseFloat(getComputedStyle(t).fontSize) < 10).length;
    return { count: texts.length, small };
  });
  if (labels.count < 5) list.push(`the differential flame graph has only ${labels.count} readable labels`);
  if (labels.small) list.push(`${labels.small} flame graph labels are smaller than 10 px`);
}
await browser.close();
if (diff && found === 0) list.push('a differential flame graph was given but the report shows no flame graphs');
for (const p of list) console.log('problem: ' + p);
process.exit(list.length ? 1 : 0);
