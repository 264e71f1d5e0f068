import { api } from "../api.js";
import { can, startPage } from "../shell.js";
import { openStream } from "../stream.js";
import { debounce, el, fillTable, formValues, num, signed, toast, when } from "../ui.js";

await startPage();

const ACTIONS = {
  CREATED: ["start", "stop"],
  RUNNING: ["pause", "stop"],
  PAUSED: ["resume", "stop"],
  STOPPED: [],
};
const ALERT_MESSAGE = JSON.stringify({
  action: "{{strategy.order.action}}",
  symbol: "{{ticker}}",
  position_size: "{{strategy.position_size}}",
  timenow: "{{timenow}}",
}, null, 2);
let selected = null;

async function lifecycle(bot, action) {
  try {
    await api(`/api/v1/bots/${encodeURIComponent(bot.id)}/${action}`, {
      method: "POST", json: { reason: "dashboard" },
    });
    toast(`${bot.id}: ${action}`);
  } catch (error) {
    toast(`${bot.id}: ${error.message}`, "error");
  }
  await load();
}

function controls(bot) {
  const box = el("span", { class: "actions-inline" });
  if (can("manage_bots")) {
    for (const action of ACTIONS[bot.status] ?? []) {
      box.append(el("button", {
        type: "button", class: "small", "aria-label": `${action} ${bot.id}`,
        onclick: () => lifecycle(bot, action),
      }, action[0].toUpperCase() + action.slice(1)), " ");
    }
  }
  box.append(el("button", {
    type: "button", class: "small", "aria-label": `Details of ${bot.id}`,
    onclick: () => details(bot.id),
  }, "Details"));
  return box;
}

async function pnl(bot) {
  try {
    const s = await api(`/api/v1/accounts/${encodeURIComponent(bot.account)}/summary`, {
      query: { bot: bot.id },
    });
    const realized = Number(s.realized?.[bot.currency] ?? 0);
    const unrealized = s.positions.filter((p) => p.currency === bot.currency)
      .reduce((sum, p) => sum + Number(p.unrealized ?? 0), 0);
    return String(realized + unrealized);
  } catch {
    return null;
  }
}

function webhookBlock(path, note) {
  const url = new URL(path, location.origin).href;
  return el("div", {},
    el("p", {}, el("strong", { text: "Webhook URL: " }), el("code", { class: "url", text: url })),
    note ? el("p", { class: "note", text: note }) : null,
    el("p", { text: "Alert message to paste into TradingView:" }),
    el("pre", { text: ALERT_MESSAGE }));
}

async function details(name) {
  selected = name;
  const bot = await api(`/api/v1/bots/${encodeURIComponent(name)}`);
  const box = document.getElementById("bot-detail");
  box.hidden = false;
  document.getElementById("bot-detail-title").textContent = `Bot ${bot.id} (${bot.status})`;
  const hook = document.getElementById("bot-webhook");
  hook.replaceChildren(el("p", { class: "note", text:
    "The webhook URL holds a secret token, shown only when it is made. Rotate to get a new one "
    + "(the old one stops working at once)." }),
  el("pre", { text: ALERT_MESSAGE }));
  if (can("manage_bots")) {
    hook.append(el("button", {
      type: "button", onclick: async () => {
        try {
          const made = await api(`/api/v1/bots/${encodeURIComponent(name)}/webhook/rotate`, {
            method: "POST",
          });
          hook.replaceChildren(webhookBlock(made.webhook.path, made.webhook.note));
        } catch (error) {
          toast(error.message, "error");
        }
      },
    }, "Rotate webhook token"));
  }
  const form = document.getElementById("limits-form");
  form.replaceChildren(...Object.entries(bot.limits ?? {}).flatMap(([key, value]) => {
    const id = `limit-${key}`;
    return [el("label", { for: id, text: key.replaceAll("_", " ") }),
      el("input", { id, name: key, value: value === null ? "" : String(value),
        placeholder: "no limit", autocomplete: "off" })];
  }), el("button", { type: "submit" }, "Save limits"));
  fillTable(document.getElementById("bot-history"), [
    { label: "Time", value: (h) => when(h.at) },
    { label: "Action", value: (h) => h.action },
    { label: "By", value: (h) => h.by },
    { label: "From → to", value: (h) => `${h.before} → ${h.after}` },
    { label: "Reason", value: (h) => h.reason },
  ], [...bot.history].reverse(), "No history.");
}

const DECIMAL = /^\d+(\.\d+)?$/;
const COUNT = /^\d+$/;

/** The field's new value as the API takes it, or throws with what was expected. */
function typed(key, value, before) {
  if (value === "") return null;
  if (typeof before === "boolean") {
    if (value !== "true" && value !== "false") throw new Error(`${key}: expected true or false`);
    return value === "true";
  }
  if (typeof before === "number" || COUNT_FIELDS.has(key)) {
    if (!COUNT.test(value)) throw new Error(`${key}: expected a whole number, was "${value}"`);
    return Number(value);
  }
  if (!DECIMAL.test(value)) {
    throw new Error(`${key}: expected a number such as 1000 or 2.5 (no commas), was "${value}"`);
  }
  return value;
}

const COUNT_FIELDS = new Set(["max_open_positions", "max_open_orders",
  "max_open_orders_per_instrument", "max_trades_per_day", "max_orders_per_second",
  "pdt_max_day_trades"]);

document.getElementById("limits-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const bot = await api(`/api/v1/bots/${encodeURIComponent(selected)}`);
  const values = formValues(event.target);
  const limits = {};
  try {
    for (const [key, value] of Object.entries(values)) {
      const next = typed(key, value, bot.limits[key]);
      if (String(next) !== String(bot.limits[key])) limits[key] = next;
    }
  } catch (error) {
    toast(`Limits not saved: ${error.message}`, "error");
    return;
  }
  const removed = Object.entries(limits).filter(([, v]) => v === null).map(([k]) => k);
  if (removed.length && !window.confirm(`Remove these limits (no limit at all)? ${removed.join(", ")}`)) {
    return;
  }
  if (!Object.keys(limits).length) {
    toast("Nothing changed");
    return;
  }
  try {
    await api(`/api/v1/bots/${encodeURIComponent(selected)}`, {
      method: "PATCH", json: { limits, reason: "dashboard" },
    });
    toast(`${selected}: limits saved`);
    await details(selected);
  } catch (error) {
    toast(`Limits not saved: ${error.message}`, "error");
  }
});

function symbolMap(text) {
  const out = {};
  for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const [ticker, instrument] = line.split("=").map((s) => s.trim());
    if (!ticker || !instrument) throw new Error(`expected TICKER=INSTRUMENT, was "${line}"`);
    out[ticker] = instrument;
  }
  return out;
}

document.getElementById("bot-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const values = formValues(event.target);
  const note = document.getElementById("bot-created");
  try {
    const made = await api("/api/v1/bots", {
      method: "POST",
      json: {
        name: values.name, account: values.account, allocation: values.allocation,
        symbol_map: symbolMap(values.symbols),
      },
    });
    note.replaceChildren(el("strong", { text: `Bot ${made.bot.id} created.` }),
      webhookBlock(made.webhook.path, made.webhook.note));
    event.target.reset();
    await load();
  } catch (error) {
    note.replaceChildren(el("span", { class: "error", text: `Not created: ${error.message}` }));
  }
});

async function load() {
  const [{ bots }, { accounts }] = await Promise.all([api("/api/v1/bots"), api("/api/v1/accounts")]);
  const account = document.getElementById("bot-account");
  if (!account.options.length) {
    account.replaceChildren(...accounts.map((a) => el("option", { value: a, text: a })));
  }
  const figures = await Promise.all(bots.map(pnl));
  fillTable(document.getElementById("bots"), [
    { label: "Bot", value: (b) => b.id },
    { label: "Account", value: (b) => b.account },
    { label: "Venue", value: (b) => b.venue },
    { label: "Status", value: (b) => b.status },
    { label: "Allocation", value: (b) => `${num(b.allocation)} ${b.currency}`, num: true },
    { label: "P&L", value: (b) => signed(figures[bots.indexOf(b)]), num: true },
    { label: "", value: controls },
  ], bots, "No bots yet.");
}

await load();
document.body.dataset.ready = "1";
openStream(["fills", "risk"], debounce(() => load().catch(() => {}), 500));
