// Small DOM helpers. Values are set as text, never as HTML.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/**
 * Fills a <table> with a header and rows. columns: [{label, value: row => text|Node,
 * num?: bool}]. An empty list shows one row saying so.
 */
export function fillTable(table, columns, rows, empty = "Nothing here yet.") {
  const head = el("thead", {}, el("tr", {}, columns.map((c) =>
    el("th", { scope: "col", class: c.num ? "num" : undefined }, c.label))));
  const bodyRows = rows.length
    ? rows.map((row) => el("tr", {}, columns.map((c) => {
      const value = c.value(row);
      return el("td", { class: c.num ? "num" : undefined }, value ?? "–");
    })))
    : [el("tr", {}, el("td", { class: "empty", colspan: columns.length }, empty))];
  table.replaceChildren(head, el("tbody", {}, bodyRows));
}

// A loss under half a cent is shown as 0, not "-0" (signDisplay "negative"; a browser older
// than 2022 refuses it, and then shows "-0" rather than no page at all).
const numberFormat = (() => {
  try {
    return new Intl.NumberFormat(undefined, { maximumFractionDigits: 2, signDisplay: "negative" });
  } catch {
    return new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
  }
})();

/** A decimal string for display (the API's value stays exact; this only rounds to show). */
export function num(text, digits) {
  if (text === null || text === undefined) return "–";
  const value = Number(text);
  if (!Number.isFinite(value)) return String(text);
  if (digits !== undefined) {
    return new Intl.NumberFormat(undefined, {
      minimumFractionDigits: digits, maximumFractionDigits: digits,
    }).format(value);
  }
  return numberFormat.format(value);
}

/** A decimal string shown exactly (quantities, prices): thousands grouped, no rounding. */
export function exact(text) {
  if (text === null || text === undefined) return "–";
  const match = /^(-?)(\d+)(\.\d+)?$/.exec(String(text));
  if (!match) return String(text);
  const whole = new Intl.NumberFormat(undefined).format(BigInt(match[2]));
  return `${match[1]}${whole}${match[3] ?? ""}`;
}

export function signed(text) {
  const node = el("span", { text: num(text) });
  const value = Number(text);
  // Coloured as shown (rounded half away from zero, as Intl does): a rounded 0 is neither.
  const shown = Math.sign(value) * Math.round(Math.abs(value) * 100);
  if (shown > 0) node.className = "pos";
  if (shown < 0) node.className = "neg";
  return node;
}

export function pct(text) {
  if (text === null || text === undefined) return "–";
  return `${num(Number(text) * 100, 2)} %`;
}

export function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = el("div", { class: `toast ${kind}`, text: message });
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Reads a form's fields as an object of trimmed strings. */
export function formValues(form) {
  return Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v).trim()]));
}

let plotlyLoading = null;

/** Plotly, loaded on first use. Its bundle is 4.8 MB of JavaScript that takes a second or
 * more of CPU to compile, so no page waits for it: a chart is drawn when it has arrived. */
export function plotly() {
  plotlyLoading ??= new Promise((resolve, reject) => {
    const script = el("script", { src: "/vendor/plotly.min.js", async: true });
    script.addEventListener("load", () => resolve(window.Plotly));
    script.addEventListener("error", () => {
      plotlyLoading = null; // the next chart tries again
      script.remove();
      reject(new Error("The chart library could not be loaded."));
    });
    document.head.append(script);
  });
  return plotlyLoading;
}
