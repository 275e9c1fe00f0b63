// Loads a report.html in headless Chromium through the DevTools protocol
// (Node's built-in WebSocket: node --experimental-websocket on Node 20) and
// writes what it saw as JSON for tests/report/test_report.py to judge:
// console errors and exceptions, every network request, the number of
// points, what the tooltip shows when the mouse is over given points,
// legend clicks, the search box, table sorting, and canvas screenshots.
//
//   node --experimental-websocket check-report.mjs REPORT.html OUT_DIR [hover indices...]
//
// OUT_DIR receives result.json, scatter.png (canvas), scatter-hl.png (after
// clicking the first legend entry), hover.png (the scatter section with a
// tooltip open) and page.png (top of the page, 1280 px wide).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const [report, outDir, ...hoverArgs] = process.argv.slice(2);
if (!report || !outDir) { console.error("usage: check-report.mjs REPORT.html OUT_DIR [i...]"); process.exit(2); }
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";
const profile = mkdtempSync(join(tmpdir(), "imgpca-chromium-"));
const args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
  "--window-size=1280,1000", `--user-data-dir=${profile}`, "--remote-debugging-port=0", "about:blank"];
// its own process group, so that the browser's helper processes end with it
const proc = spawn(chromium, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
const exited = new Promise((res) => proc.on("exit", res));
const killAll = async () => {
  try { process.kill(-proc.pid, "SIGKILL"); } catch (e) { /* gone */ }
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  for (let i = 0; i < 5; i++) {
    try { rmSync(profile, { recursive: true, force: true }); break; } catch (e) { await new Promise((r) => setTimeout(r, 200)); }
  }
};
const timer = setTimeout(async () => { console.error("check-report: timed out"); await killAll(); process.exit(3); }, 90000);

const wsUrl = await new Promise((res, rej) => {
  let buf = "";
  proc.stderr.on("data", (d) => { buf += d; const m = buf.match(/DevTools listening on (ws:\/\/\S+)/); if (m) res(m[1]); });
  proc.on("exit", (c) => rej(new Error("chromium exited " + c + ": " + buf.slice(-2000))));
});
const port = new URL(wsUrl).port;
const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
const page = targets.find((t) => t.type === "page");
const ws = new WebSocket(page.webSocketDebuggerUrl);
await new Promise((res, rej) => { ws.onopen = res; ws.onerror = rej; });

let id = 0;
const pending = new Map(), waiters = [];
const seen = { console: [], exceptions: [], requests: [], logs: [] };
ws.onmessage = (ev) => {
  const m = JSON.parse(ev.data);
  if (m.id && pending.has(m.id)) {
    const { res, rej } = pending.get(m.id); pending.delete(m.id);
    m.error ? rej(new Error(JSON.stringify(m.error))) : res(m.result);
    return;
  }
  if (m.method === "Runtime.consoleAPICalled") seen.console.push({ type: m.params.type, text: m.params.args.map((a) => a.value ?? a.description).join(" ") });
  if (m.method === "Runtime.exceptionThrown") seen.exceptions.push(m.params.exceptionDetails.exception?.description || m.params.exceptionDetails.text);
  if (m.method === "Log.entryAdded") seen.logs.push({ level: m.params.entry.level, source: m.params.entry.source, text: m.params.entry.text });
  if (m.method === "Network.requestWillBeSent") seen.requests.push(m.params.request.url.slice(0, 200));
  for (const w of waiters.splice(0)) if (!w(m)) waiters.push(w);
};
const send = (method, params = {}) => new Promise((res, rej) => { const i = ++id; pending.set(i, { res, rej }); ws.send(JSON.stringify({ id: i, method, params })); });
const event = (name) => new Promise((res) => waiters.push((m) => { if (m.method === name) { res(m.params); return true; } return false; }));
const evaluate = async (expr) => {
  const r = await send("Runtime.evaluate", { expression: expr, returnByValue: true, awaitPromise: true });
  if (r.exceptionDetails) throw new Error("evaluate " + expr + ": " + JSON.stringify(r.exceptionDetails));
  return r.result.value;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const frame = () => evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(1))))");

await Promise.all([send("Runtime.enable"), send("Log.enable"), send("Network.enable"), send("Page.enable")]);
await send("Emulation.setDeviceMetricsOverride", { width: 1280, height: 1000, deviceScaleFactor: 1, mobile: false });
const url = "file://" + resolve(report);
const loaded = event("Page.loadEventFired");
await send("Page.navigate", { url });
await loaded;
await frame();

const result = { url };
result.ready = await evaluate("document.documentElement.dataset.ready || ''");
result.points = await evaluate("window.imgpcaReport ? imgpcaReport.points() : -1");
result.drawn = await evaluate("window.imgpcaReport ? imgpcaReport.drawn() : -1");
result.legend = await evaluate("document.querySelectorAll('#legend [role=listitem]').length");
result.colours = await evaluate("imgpcaReport.colours()");
result.data = await evaluate("({labels: DATA.labels, keys: DATA.points.map((p) => p[0]), li: DATA.points.map((p) => p[1]), thumbs: DATA.points.filter((p) => p[4]).length})");
result.sections = await evaluate("[...document.querySelectorAll('section h2')].map((h) => h.textContent)");
result.summary = await evaluate("document.getElementById('cards').innerText");
result.axis = await evaluate("[document.getElementById('ax').selectedOptions[0].text, document.getElementById('ay').selectedOptions[0].text]");
result.eigenImages = await evaluate("document.querySelectorAll('#eigen img').length");
result.confusionImages = await evaluate("document.querySelectorAll('#classif .ex img').length");
result.errorRows = await evaluate("document.querySelectorAll('#errors tbody tr').length");

// canvas screenshot before any interaction
async function shot(file, selector) {
  const clip = await evaluate(`(() => { const e = document.querySelector(${JSON.stringify(selector)}); e.scrollIntoView({block: 'center'});
    const r = e.getBoundingClientRect(); return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height, scale: 1}; })()`);
  await frame();
  const r = await send("Page.captureScreenshot", { format: "png", clip, captureBeyondViewport: true });
  writeFileSync(join(outDir, file), Buffer.from(r.data, "base64"));
}
await shot("scatter.png", "#scatter");

// hover: real mouse events at the points' positions
result.hover = [];
await evaluate("document.getElementById('scatter').scrollIntoView({block: 'center'})");
await frame();
// Targets: for each requested index, the first point at or after it that lies
// more than 6 px from every other drawn point (mouse positions are whole
// pixels) and, if there is one, has a thumbnail.
const hoverTargets = await evaluate(`(() => {
  const P = DATA.points, n = P.length, pos = [], out = [];
  for (let i = 0; i < n; i++) pos.push(imgpcaReport.pointAt(i));
  const cell = new Map(), k = (x, y) => Math.floor(x / 8) + ',' + Math.floor(y / 8);
  pos.forEach((p, i) => { if (p) { const c = k(p[0], p[1]); cell.has(c) ? cell.get(c).push(i) : cell.set(c, [i]); } });
  const isolated = (i) => { const p = pos[i]; if (!p) return false;
    const cx = Math.floor(p[0] / 8), cy = Math.floor(p[1] / 8);
    for (let dx = -1; dx <= 1; dx++) for (let dy = -1; dy <= 1; dy++)
      for (const j of cell.get((cx + dx) + ',' + (cy + dy)) || [])
        if (j !== i && (pos[j][0] - p[0]) ** 2 + (pos[j][1] - p[1]) ** 2 < 36) return false;
    return true; };
  for (const want of ${JSON.stringify((hoverArgs.length ? hoverArgs : ["0"]).map(Number))}) {
    let pick = -1;
    for (let i = Math.min(want, n - 1); i < n && pick < 0; i++) if (isolated(i) && P[i][4]) pick = i;
    for (let i = Math.min(want, n - 1); i < n && pick < 0; i++) if (isolated(i)) pick = i;
    out.push(pick);
  }
  return out; })()`);
for (const i of hoverTargets) {
  const pos = i < 0 ? null : await evaluate(`(() => { const p = imgpcaReport.pointAt(${i}); return p && [p[0] - scrollX, p[1] - scrollY]; })()`);
  if (!pos) { result.hover.push({ i, pos: null }); continue; }
  await send("Input.dispatchMouseEvent", { type: "mouseMoved", x: pos[0], y: pos[1] });
  await frame();
  const shown = await evaluate("({text: imgpcaReport.tooltip(), label: document.getElementById('tip').dataset.label || '', img: !!document.querySelector('#tip img')})");
  result.hover.push({ i, key: result.data.keys[i], hasThumb: await evaluate(`!!DATA.points[${i}][4]`), pos, ...shown });
}
// the scatter section with a tooltip open (README picture): section at the top of the
// viewport, the last target hovered again, captured inside the viewport
{
  await evaluate("window.scrollTo(0, document.getElementById('s-scatter').getBoundingClientRect().top + scrollY)");
  await frame();
  const i = hoverTargets[hoverTargets.length - 1];
  const pos = i < 0 ? null : await evaluate(`(() => { const p = imgpcaReport.pointAt(${i}); return p && [p[0] - scrollX, p[1] - scrollY]; })()`);
  if (pos) await send("Input.dispatchMouseEvent", { type: "mouseMoved", x: pos[0], y: pos[1] });
  await frame();
  const clip = await evaluate(`(() => { const r = document.getElementById('s-scatter').getBoundingClientRect();
    return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: Math.min(r.height, 760), scale: 1}; })()`);
  const r = await send("Page.captureScreenshot", { format: "png", clip });
  writeFileSync(join(outDir, "hover.png"), Buffer.from(r.data, "base64"));
}
await send("Input.dispatchMouseEvent", { type: "mouseMoved", x: 2, y: 2 });
result.tooltipAfterLeave = await evaluate("imgpcaReport.tooltip()");

// legend: clicking the first entry highlights it (others grey), twice hides it
const legendPos = async (n) => evaluate(`(() => { const e = document.querySelectorAll('#legend [role=listitem]')[${n}]; e.scrollIntoView({block: 'center'});
  const r = e.getBoundingClientRect(); return [r.left + 20, r.top + r.height / 2]; })()`);
const click = async (pos) => {
  await send("Input.dispatchMouseEvent", { type: "mousePressed", x: pos[0], y: pos[1], button: "left", clickCount: 1 });
  await send("Input.dispatchMouseEvent", { type: "mouseReleased", x: pos[0], y: pos[1], button: "left", clickCount: 1 });
  await frame();
};
await click(await legendPos(0));
result.afterClick1 = { drawn: await evaluate("imgpcaReport.drawn()"), cls: await evaluate("document.querySelectorAll('#legend [role=listitem]')[0].className") };
await shot("scatter-hl.png", "#scatter");
await click(await legendPos(0));
result.afterClick2 = { drawn: await evaluate("imgpcaReport.drawn()"), cls: await evaluate("document.querySelectorAll('#legend [role=listitem]')[0].className") };
await click(await legendPos(0));
result.afterClick3 = { drawn: await evaluate("imgpcaReport.drawn()"), cls: await evaluate("document.querySelectorAll('#legend [role=listitem]')[0].className") };

// search: typing into the box highlights the matching labels
const q = process.env.SEARCH || result.data.labels[Math.floor(result.data.labels.length / 2)] || "";
await evaluate("document.getElementById('search').scrollIntoView({block: 'center'})");
const box = await evaluate("(() => { const r = document.getElementById('search').getBoundingClientRect(); return [r.left + 10, r.top + r.height / 2]; })()");
await click(box);
await send("Input.insertText", { text: q });
await frame();
result.search = { query: q, highlighted: await evaluate("[...document.querySelectorAll('#legend .hl')].map((e) => e.children[1].textContent)"),
  visibleLegend: await evaluate("[...document.querySelectorAll('#legend [role=listitem]')].filter((e) => e.offsetParent).length") };
await click(await evaluate("(() => { const r = document.getElementById('reset').getBoundingClientRect(); return [r.left + 5, r.top + 5]; })()"));

// the accuracy table sorts by a clicked column
result.sort = null;
if (await evaluate("!!document.getElementById('acctable')")) {
  const th = await evaluate("(() => { const e = document.querySelector('#acctable th[data-key=label]'); e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect(); return [r.left + 10, r.top + r.height / 2]; })()");
  await click(th);
  const asc = await evaluate("[...document.querySelectorAll('#acctable tbody tr td:first-child')].map((e) => e.textContent)");
  await click(th);
  const desc = await evaluate("[...document.querySelectorAll('#acctable tbody tr td:first-child')].map((e) => e.textContent)");
  result.sort = { asc, desc };
}

// top of the page for the README
await evaluate("window.scrollTo(0, 0)");
await frame();
const top = await send("Page.captureScreenshot", { format: "png", clip: { x: 0, y: 0, width: 1280, height: 1020, scale: 1 }, captureBeyondViewport: true });
writeFileSync(join(outDir, "page.png"), Buffer.from(top.data, "base64"));

await sleep(200);
result.console = seen.console; result.exceptions = seen.exceptions; result.logs = seen.logs; result.requests = seen.requests;
writeFileSync(join(outDir, "result.json"), JSON.stringify(result, null, 1));
clearTimeout(timer);
ws.close();
await killAll();
console.log("check-report: " + report + ": " + result.points + " points, " + seen.requests.length + " requests");
process.exit(0);
