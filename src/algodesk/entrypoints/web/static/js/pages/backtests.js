import { api } from "../api.js";
import { can, startPage } from "../shell.js";
import { el, fillTable, formValues, num, pct, toast, when } from "../ui.js";

await startPage();
let timer = null;

function params(text) {
  const out = {};
  for (const pair of text.split(/\s+/).filter(Boolean)) {
    const [name, value] = pair.split("=");
    if (!name || value === undefined) throw new Error(`expected name=value, was "${pair}"`);
    out[name] = value;
  }
  return out;
}

async function openReport(job) {
  // A link cannot carry the bearer token: ask for a short-lived ticket, then open the page
  // in a tab that shares nothing with this one (noopener: no session storage, no opener).
  try {
    const { url } = await api(`/api/v1/backtests/${encodeURIComponent(job.id)}/report-link`, {
      method: "POST",
    });
    window.open(url, "_blank", "noopener");
  } catch (error) {
    toast(`No report: ${error.message}`, "error");
  }
}

function progress(job) {
  if (job.status === "running" || job.status === "queued") {
    const { done = 0, total = 0 } = job.progress ?? {};
    if (!total) return job.status === "queued" ? "queued" : "starting…";
    return el("span", {},
      el("progress", { max: String(total || 1), value: String(done),
        "aria-label": `Backtest ${job.id} progress` }),
      ` ${total ? Math.round((100 * done) / total) : 0} %`);
  }
  if (job.status === "failed") return el("span", { class: "error", text: job.error ?? "failed" });
  return "done";
}

function stat(job, key) {
  const value = job.stats?.[key];
  return value === undefined || value === null ? "–" : num(value);
}

async function load() {
  const { backtests } = await api("/api/v1/backtests");
  fillTable(document.getElementById("backtests"), [
    { label: "Started", value: (j) => when(j.created_at) },
    { label: "Strategy", value: (j) => j.strategy },
    { label: "Bars", value: (j) => j.series },
    { label: "State", value: progress },
    { label: "Return", value: (j) => (j.stats ? pct(j.stats.total_return) : "–"), num: true },
    { label: "Max drawdown", value: (j) => (j.stats ? pct(j.stats.max_drawdown) : "–"),
      num: true },
    { label: "Trades", value: (j) => stat(j, "trade_count"), num: true },
    { label: "", value: (j) => (j.has_report ? el("button", {
      type: "button", class: "small", "aria-label": `Open the report of ${j.id}`,
      onclick: () => openReport(j),
    }, "Report") : "") },
  ], backtests, "No backtests yet.");
  const busy = backtests.some((j) => j.status === "running" || j.status === "queued");
  clearTimeout(timer);
  if (busy) timer = setTimeout(() => load().catch(() => {}), 500);
}

async function options() {
  const found = await api("/api/v1/backtests/options");
  const strategy = document.getElementById("bt-strategy");
  strategy.replaceChildren(...found.strategies.map((s) => el("option", {
    value: s.name, text: s.name,
  })));
  const defaults = () => {
    const chosen = found.strategies.find((s) => s.name === strategy.value);
    document.getElementById("bt-params").placeholder = Object.entries(chosen?.params ?? {})
      .map(([k, v]) => `${k}=${v}`).join(" ");
  };
  strategy.addEventListener("change", defaults);
  defaults();
  document.getElementById("bt-series").replaceChildren(...found.series.map((s) => el("option", {
    value: s.id, text: `${s.instrument} ${s.timeframe} (${s.bars} bars)`,
  })));
}

document.getElementById("backtest-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const values = formValues(event.target);
  try {
    await api("/api/v1/backtests", {
      method: "POST",
      json: {
        strategy: values.strategy, series: values.series, cash: values.cash,
        params: params(values.params),
      },
    });
    toast("Backtest started");
  } catch (error) {
    toast(`Not started: ${error.message}`, "error");
  }
  await load();
});

if (can("trade")) await options();
await load();
document.body.dataset.ready = "1";
