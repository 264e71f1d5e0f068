import { api } from "../api.js";
import { startPage } from "../shell.js";
import { openStream } from "../stream.js";
import { debounce, el, fillTable, toast, when } from "../ui.js";

await startPage();
const filter = document.getElementById("alert-status");
const dialog = document.getElementById("alert-dialog");

function fate(a) {
  if (a.status === "EXECUTED") return "executed";
  if (a.status === "PENDING") return "pending";
  const code = a.reason ? ` (${a.reason})` : "";
  return `${a.status.toLowerCase()}${code}: ${a.message ?? ""}`;
}

function open(a) {
  const fields = document.getElementById("alert-fields");
  const rows = [
    ["Alert", `#${a.id}`], ["Bot", a.bot], ["Received", when(a.received_at)],
    ["Fate", fate(a)], ["Settled", when(a.settled_at)], ["From", a.remote_addr ?? "–"],
    ["Resends", String(a.duplicates)],
  ];
  fields.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  document.getElementById("alert-body").textContent = a.body;
  document.getElementById("alert-title").textContent = `Alert #${a.id}`;
  dialog.showModal();
}

async function load() {
  const { alerts } = await api("/api/v1/alerts", { query: { status: filter.value, limit: 100 } });
  fillTable(document.getElementById("alerts"), [
    { label: "#", value: (a) => String(a.id), num: true },
    { label: "Received", value: (a) => when(a.received_at) },
    { label: "Bot", value: (a) => a.bot },
    { label: "Fate", value: fate },
    { label: "", value: (a) => el("button", {
      type: "button", class: "small", "aria-label": `Show alert ${a.id}`, onclick: () => open(a),
    }, "Body") },
  ], alerts, "No alerts yet.");
}

filter.addEventListener("change", () => load().catch((e) => toast(e.message, "error")));
await load();
document.body.dataset.ready = "1";
openStream(["alerts"], debounce(() => load().catch(() => {}), 300));
