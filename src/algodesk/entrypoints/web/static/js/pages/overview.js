import { api } from "../api.js";
import { refreshState, startPage } from "../shell.js";
import { openStream } from "../stream.js";
import { debounce, el, fillTable, num, pct, plotly, signed, toast, when } from "../ui.js";

await startPage();
const select = document.getElementById("account");
const { accounts } = await api("/api/v1/accounts");
select.replaceChildren(...accounts.map((a) => el("option", { value: a, text: a })));

function show(id, value) {
  const node = document.getElementById(id);
  node.replaceChildren(value instanceof Node ? value : document.createTextNode(value));
}

// Drawn when Plotly has loaded; the figures above it do not wait. Calls keep their order (they
// all wait on the same load), so the last figures drawn are the latest.
function chart(curve, currency) {
  const target = document.getElementById("equity-chart");
  const trace = {
    x: curve.map((p) => p.ts), y: curve.map((p) => Number(p.equity)),
    type: "scatter", mode: "lines", name: `equity (${currency})`, line: { width: 2 },
  };
  const layout = {
    margin: { l: 60, r: 10, t: 10, b: 40 }, height: 300, showlegend: false,
    yaxis: { title: { text: currency } }, xaxis: { type: "date" },
  };
  plotly()
    .then((Plotly) => Plotly.react(target, [trace], layout, { responsive: true, displaylogo: false }))
    .catch((failure) => toast(failure.message, "error"));
}

async function breakers() {
  const table = document.getElementById("breakers");
  const { scopes } = await api("/api/v1/breakers", { query: { limit: 1 } });
  fillTable(table, [
    { label: "Scope", value: (s) => (s.bot ? `${s.account} / ${s.bot}` : s.account) },
    { label: "State", value: (s) => s.state },
    { label: "Tripped", value: (s) => s.breakers.filter((b) => b.tripped)
      .map((b) => b.kind).join(", ") || "none" },
  ], scopes, "No circuit breakers configured.");
}

async function status() {
  const found = await api("/api/v1/status");
  fillTable(document.getElementById("feeds"), [
    { label: "Source", value: (r) => r.name },
    { label: "Last", value: (r) => r.last, num: true },
    { label: "State", value: (r) => r.state },
  ], [
    ...found.venues.map((v) => ({
      name: `${v.venue} (${v.kind})`, last: "", state: v.responsive ? "answering" : "unresponsive",
    })),
    ...found.feed.map((f) => ({
      name: f.instrument, last: `${num(f.mark)} · ${Math.round(f.age_seconds)} s ago`,
      state: f.stale ? "stale" : "live",
    })),
  ], "No feed yet.");
}

async function figures() {
  const account = select.value;
  const [perf, states] = await Promise.all([
    api(`/api/v1/accounts/${encodeURIComponent(account)}/performance`, { query: { points: 500 } }),
    refreshState(),
  ]);
  const found = Object.keys(perf.currencies);
  const picker = document.getElementById("currency");
  if (picker.dataset.for !== account || picker.options.length !== found.length) {
    picker.dataset.for = account;
    picker.replaceChildren(...found.map((c) => el("option", { value: c, text: c })));
  }
  const several = found.length > 1;
  picker.hidden = !several;
  document.querySelector('label[for="currency"]').hidden = !several;
  const currency = found.includes(picker.value) ? picker.value : found[0] ?? null;
  const p = currency ? perf.currencies[currency] : null;
  show("f-state", states?.[account] ?? "–");
  if (!p) return;
  show("f-equity", `${num(p.equity)} ${currency}`);
  show("f-today", signed(p.today_pnl));
  show("f-realized", signed(p.realized));
  show("f-unrealized", signed(p.unrealized));
  show("f-drawdown", `${pct(p.drawdown)} · worst ${pct(p.max_drawdown)}`);
  show("f-winrate", p.win_rate === null ? "–" : `${pct(p.win_rate)} of ${p.closing_fills}`);
  show("f-exposure", num(p.exposure));
  chart(p.curve, currency);
  document.getElementById("equity-chart").setAttribute(
    "aria-label", `Equity over time, ${num(p.equity)} ${currency} at ${when(perf.as_of)}`);
}

async function all() {
  await Promise.all([figures(), breakers(), status()]);
}

const later = debounce(() => all().catch((e) => toast(e.message, "error")), 400);
select.addEventListener("change", later);
document.getElementById("currency").addEventListener("change", later);
await all();
document.body.dataset.ready = "1";
openStream(["fills", "pnl", "risk"], later);
setInterval(() => status().catch(() => {}), 5_000);
