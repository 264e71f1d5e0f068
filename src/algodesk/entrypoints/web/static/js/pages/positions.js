import { api } from "../api.js";
import { can, startPage } from "../shell.js";
import { openStream } from "../stream.js";
import { debounce, el, exact, fillTable, num, signed, toast, when } from "../ui.js";

await startPage();

async function act(label, call) {
  try {
    const outcome = await call();
    toast(outcome.ok === false ? `${label}: ${outcome.message}` : `${label}: done`,
      outcome.ok === false ? "error" : "info");
  } catch (error) {
    toast(`${label}: ${error.message}`, "error");
  }
  await load();
}

function closeButton(p) {
  if (!can("trade")) return "";
  return el("button", {
    type: "button", class: "small", "aria-label": `Close ${p.instrument} in ${p.account}`,
    onclick: () => {
      const question = `Close ${p.instrument} in ${p.account} at market? This cancels its `
        + "working orders and closes every bot's position in it.";
      if (!window.confirm(question)) return;
      act(`Close ${p.instrument}`, () => api("/api/v1/positions/close", {
        method: "POST", json: { account: p.account, instrument: p.instrument },
      }));
    },
  }, "Close");
}

function cancelButton(o) {
  if (!can("trade")) return "";
  return el("button", {
    type: "button", class: "small", "aria-label": `Cancel order ${o.client_order_id}`,
    onclick: () => act(`Cancel ${o.client_order_id}`, () => api(
      `/api/v1/orders/${encodeURIComponent(o.client_order_id)}`, { method: "DELETE" })),
  }, "Cancel");
}

function trailing(x) {
  if (!x.trailing) return "";
  const gap = x.trailing.unit === "PERCENT" ? `${x.trailing.distance} %` : x.trailing.distance;
  return `${exact(x.trailing_stop)} (${gap})`;
}

function exitState(x) {
  if (!x.denied) return x.state.replace("_", " ");
  const why = x.denied;
  return el("span", { title: why.message, class: "error" },
    `denied: ${why.code} since ${when(why.since)}`);
}

async function load() {
  const { accounts } = await api("/api/v1/accounts");
  const [positions, exits, orders, fills] = await Promise.all([
    Promise.all(accounts.map((a) => api("/api/v1/positions", { query: { account: a } })
      .then((r) => r.positions.map((p) => ({ ...p, account: a }))))),
    api("/api/v1/exits"),
    api("/api/v1/orders", { query: { open_only: true } }),
    api("/api/v1/fills", { query: { limit: 20 } }),
  ]);
  fillTable(document.getElementById("positions"), [
    { label: "Account", value: (p) => p.account },
    { label: "Instrument", value: (p) => p.instrument },
    { label: "Quantity", value: (p) => exact(p.quantity), num: true },
    { label: "Average", value: (p) => exact(p.average_price), num: true },
    { label: "Mark", value: (p) => exact(p.mark), num: true },
    { label: "Unrealized", value: (p) => signed(p.unrealized), num: true },
    { label: "", value: closeButton },
  ], positions.flat(), "No open positions.");
  fillTable(document.getElementById("exits"), [
    { label: "Entry", value: (x) => x.entry },
    { label: "Bot", value: (x) => x.bot ?? "" },
    { label: "Instrument", value: (x) => x.instrument },
    { label: "Guards", value: (x) => x.direction },
    { label: "Quantity", value: (x) => exact(x.quantity), num: true },
    { label: "Stop-loss", value: (x) => exact(x.stop_loss), num: true },
    { label: "Take-profit", value: (x) => exact(x.take_profit), num: true },
    { label: "Trailing stop", value: trailing, num: true },
    { label: "State", value: exitState },
  ], exits.exits, "No stop-loss, take-profit or trailing stop is armed.");
  fillTable(document.getElementById("orders"), [
    { label: "Order", value: (o) => o.client_order_id },
    { label: "Bot", value: (o) => o.bot ?? "" },
    { label: "Instrument", value: (o) => o.instrument },
    { label: "Side", value: (o) => o.side },
    { label: "Type", value: (o) => o.order_type },
    { label: "Quantity", value: (o) => exact(o.quantity), num: true },
    { label: "Price", value: (o) => exact(o.price ?? o.trigger_price), num: true },
    { label: "Status", value: (o) => o.status },
    { label: "", value: cancelButton },
  ], orders.orders, "No open orders.");
  fillTable(document.getElementById("fills"), [
    { label: "Time", value: (f) => when(f.ts) },
    { label: "Bot", value: (f) => f.bot ?? "" },
    { label: "Instrument", value: (f) => f.instrument },
    { label: "Side", value: (f) => f.side },
    { label: "Quantity", value: (f) => exact(f.quantity), num: true },
    { label: "Price", value: (f) => exact(f.price), num: true },
    { label: "Fee", value: (f) => num(f.fee), num: true },
  ], fills.fills, "No fills yet.");
}

await load();
document.body.dataset.ready = "1";
// risk: an exit fired or denied (and breakers, trading states) change the exits' table.
openStream(["orders", "fills", "positions", "risk"], debounce(() => load().catch(() => {}), 300));
