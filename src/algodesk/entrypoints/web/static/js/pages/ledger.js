import { api } from "../api.js";
import { startPage } from "../shell.js";
import { openStream } from "../stream.js";
import { debounce, fillTable, toast, when } from "../ui.js";

await startPage();

async function verify() {
  const out = document.getElementById("verify");
  out.textContent = "Checking the hash chain…";
  const report = await api("/api/v1/ledger/verify");
  out.textContent = report.ok
    ? `Verified: ${report.entries} entries in ${report.accounts} accounts, every hash intact.`
    : `FAILED: ${report.problems.map((p) => `${p.account} #${p.seq} ${p.code}: ${p.message}`)
      .join("; ")}`;
  out.className = report.ok ? "ok" : "error";
}

async function reconcile() {
  const out = document.getElementById("reconcile");
  const list = document.getElementById("differences");
  out.textContent = "Reconciling…";
  out.className = "";
  list.replaceChildren();
  const found = await api("/api/v1/ledger/reconcile");
  const venues = Object.entries(found.venues)
    .map(([venue, v]) => `${venue}: ${v.working} working`).join(", ");
  const count = (n, what) => `${n} ${what}${n === 1 ? "" : "s"}`;
  out.textContent = (found.ok ? "Reconciled: " : `${count(found.differences.length, "difference")}: `)
    + `${count(found.fills, "fill")}, ${count(found.orders, "order")}`
    + `${venues ? `; ${venues}` : ""}.`;
  out.className = found.ok ? "ok" : "error";
  for (const d of found.differences) {
    const item = document.createElement("li");
    item.textContent = `${d.kind} (${d.account}, ${d.subject}): ${d.message}`;
    list.append(item);
  }
}

async function entries() {
  const found = await api("/api/v1/ledger/entries", { query: { limit: 100 } });
  fillTable(document.getElementById("entries"), [
    { label: "Account", value: (e) => e.account },
    { label: "#", value: (e) => String(e.seq), num: true },
    { label: "Time", value: (e) => when(e.ts) },
    { label: "Kind", value: (e) => e.kind },
    { label: "Bot", value: (e) => e.bot ?? "" },
    { label: "Postings", value: (e) => e.postings
      .map((p) => `${p.book} ${p.amount} ${p.currency}`).join("; ") },
    { label: "Hash", value: (e) => e.hash.slice(0, 12) },
  ], found.entries, "The ledger is empty.");
}

document.getElementById("reverify").addEventListener(
  "click", () => verify().catch((e) => toast(e.message, "error")));
document.getElementById("reconcile-now").addEventListener(
  "click", () => reconcile().catch((e) => toast(e.message, "error")));
await Promise.all([verify(), entries()]);
document.body.dataset.ready = "1";
openStream(["fills"], debounce(() => entries().catch(() => {}), 500));
