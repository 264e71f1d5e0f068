// What every page does first: require a session, show who is signed in, hide the controls the
// role may not use, keep the trading-state badge current, and wire the kill switch.
import { api, idleMs, session, signOut, touch } from "./api.js";
import { toast } from "./ui.js";

let me = null;

export function can(permission) {
  return Boolean(me?.permissions?.includes(permission));
}

function watchIdle() {
  const minutes = Number(document.body.dataset.idleMinutes || 30);
  let last = 0;
  const mark = () => {
    const now = Date.now();
    if (now - last > 5_000) {
      last = now;
      touch();
    }
  };
  for (const name of ["keydown", "pointerdown", "touchstart", "wheel"]) {
    addEventListener(name, mark, { passive: true });
  }
  const check = () => {
    if (idleMs() > minutes * 60_000) signOut("idle");
  };
  check();
  setInterval(check, 10_000);
}

export async function refreshState() {
  const badge = document.getElementById("state-badge");
  if (!badge) return null;
  const { accounts } = await api("/api/v1/trading-state");
  const states = Object.values(accounts);
  const worst = ["HALTED", "REDUCING", "ACTIVE"].find((s) => states.includes(s)) ?? "–";
  badge.textContent = worst;
  badge.className = `badge ${worst}`;
  badge.title = Object.entries(accounts).map(([a, s]) => `${a}: ${s}`).join(", ");
  return accounts;
}

function wireKillSwitch(onDone) {
  const button = document.getElementById("kill");
  const dialog = document.getElementById("kill-dialog");
  const form = document.getElementById("kill-form");
  if (!button || !dialog || !form) return;
  let busy = false;
  button.addEventListener("click", () => {
    form.reset();
    dialog.returnValue = "";
    dialog.showModal();
  });
  // Acts only on the confirm button's own submission: Esc, Cancel or a stale returnValue
  // never pull it.
  form.addEventListener("submit", async (event) => {
    if (event.submitter?.value !== "confirm" || busy) return;
    busy = true;
    button.disabled = true;
    const reason = document.getElementById("kill-reason").value.trim() || "dashboard";
    try {
      const asked = await api("/api/v1/kill-switch", { method: "POST", json: { reason } });
      const done = await api("/api/v1/kill-switch/confirm", {
        method: "POST", json: { confirm: asked.confirm },
      });
      toast(done.ok === false ? `Kill switch: ${done.message}` : "Trading halted; flattening.",
        done.ok === false ? "error" : "info");
    } catch (error) {
      toast(`Kill switch failed: ${error.message}`, "error");
    } finally {
      busy = false;
      button.disabled = false;
    }
    await onDone();
  });
}

function wireMenu() {
  const toggle = document.querySelector(".menu-toggle");
  const nav = document.getElementById("nav");
  toggle?.addEventListener("click", () => {
    const open = nav.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
  });
}

/** Starts a page: returns the signed-in user ({user, role, permissions}). */
export async function startPage() {
  if (!session()) {
    signOut();
    return new Promise(() => {});
  }
  watchIdle();
  me = await api("/api/v1/me");
  document.getElementById("who").textContent = `${me.user} (${me.role})`;
  document.getElementById("sign-out").addEventListener("click", async () => {
    // Ends the user's sessions on the desk too (refresh tokens revoked), then here.
    await api("/api/v1/auth/logout", { method: "POST" }).catch(() => {});
    signOut("signed_out");
  });
  for (const node of document.querySelectorAll("[data-requires]")) {
    node.hidden = !can(node.dataset.requires);
  }
  wireMenu();
  wireKillSwitch(refreshState);
  refreshState().catch((error) => toast(error.message, "error"));
  return me;
}
