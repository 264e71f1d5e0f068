import { api } from "../api.js";
import { can, startPage } from "../shell.js";
import { openStream } from "../stream.js";
import { debounce, el, fillTable, num, toast, when } from "../ui.js";

await startPage();

const USAGE = [
  ["gross_exposure", "Gross exposure"],
  ["net_exposure", "Net exposure"],
  ["open_positions", "Open positions"],
  ["open_orders", "Open orders"],
  ["trades_today", "Trades today"],
  ["orders_last_second", "Orders in the last second"],
  ["daily_loss_pct", "Daily loss %"],
  ["drawdown_pct", "Drawdown %"],
];

function usageRows(scope, usage) {
  const rows = USAGE.filter(([key]) => usage[key]).map(([key, label]) => ({
    scope, label, used: usage[key].used, limit: usage[key].limit,
  }));
  for (const p of usage.positions ?? []) {
    rows.push({ scope, label: `Position ${p.instrument} (qty)`, used: p.quantity,
      limit: p.max_position_qty });
  }
  return rows;
}

function share(row) {
  if (row.limit === null || row.used === null) return "";
  const used = Math.abs(Number(row.used));
  const limit = Number(row.limit);
  if (!limit) return "";
  const part = Math.min(1, used / limit);
  return el("span", {},
    el("progress", { max: "1", value: String(part), "aria-label": `${row.label}: ${Math.round(part * 100)} % of the limit` }),
    ` ${Math.round(part * 100)} %`);
}

async function reset(scope) {
  try {
    const outcome = await api("/api/v1/breakers/reset", {
      method: "POST", json: { account: scope.account, bot: scope.bot ?? undefined },
    });
    toast(outcome.ok === false ? outcome.message : "Breakers reset",
      outcome.ok === false ? "error" : "info");
  } catch (error) {
    toast(error.message, "error");
  }
  await load();
}

async function load() {
  const [{ accounts }, breakers] = await Promise.all([
    api("/api/v1/limits"), api("/api/v1/breakers", { query: { limit: 50 } }),
  ]);
  fillTable(document.getElementById("states"), [
    { label: "Scope", value: (r) => r.scope },
    { label: "State", value: (r) => el("span", { class: `badge ${r.state}`, text: r.state }) },
  ], accounts.flatMap((a) => [
    { scope: a.account, state: a.trading_state },
    ...a.bots.map((b) => ({ scope: `${a.account} / ${b.bot}`, state: b.trading_state })),
  ]));
  fillTable(document.getElementById("limits"), [
    { label: "Scope", value: (r) => r.scope },
    { label: "Limit", value: (r) => r.label },
    { label: "Used", value: (r) => num(r.used), num: true },
    { label: "Limit", value: (r) => (r.limit === null ? "none" : num(r.limit)), num: true },
    { label: "Share", value: share },
  ], accounts.flatMap((a) => [
    ...usageRows(a.account, a.usage),
    ...a.bots.flatMap((b) => usageRows(`${a.account} / ${b.bot}`, b.usage)),
  ]), "No limits configured.");
  fillTable(document.getElementById("breaker-status"), [
    { label: "Scope", value: (s) => (s.bot ? `${s.account} / ${s.bot}` : s.account) },
    { label: "State", value: (s) => s.state },
    { label: "Tripped", value: (s) => s.breakers.filter((b) => b.tripped)
      .map((b) => `${b.kind}: ${b.reason}`).join("; ") || "none" },
    { label: "Enabled", value: (s) => s.breakers.filter((b) => b.enabled)
      .map((b) => `${b.kind} ≤ ${b.limit}`).join(", ") || "none" },
    { label: "", value: (s) => (can("reset_breakers") && s.tripped ? el("button", {
      type: "button", class: "small", "aria-label": `Reset breakers of ${s.account}`,
      onclick: () => reset(s),
    }, "Reset") : "") },
  ], breakers.scopes, "No circuit breakers configured.");
  fillTable(document.getElementById("breaker-history"), [
    { label: "Tripped", value: (t) => when(t.tripped_at) },
    { label: "Scope", value: (t) => (t.bot ? `${t.account} / ${t.bot}` : t.account) },
    { label: "Breaker", value: (t) => t.kind },
    { label: "Moved to", value: (t) => t.state },
    { label: "Reason", value: (t) => t.reason },
    { label: "Reset", value: (t) => (t.reset_on ? `${when(t.reset_on)} by ${t.reset_by ?? "timer"}` : `due ${when(t.resets_at)}`) },
  ], breakers.history, "No trips.");
}

await load();
document.body.dataset.ready = "1";
openStream(["risk", "fills"], debounce(() => load().catch(() => {}), 500));
