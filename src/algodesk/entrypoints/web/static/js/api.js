// The session and the public API. Tokens live in sessionStorage: this tab only, gone when it
// closes. A 401 is answered by one refresh (shared by concurrent calls: refresh tokens are
// single-use), then by signing out.

const KEY = "algodesk.session";
const ACTIVE = "algodesk.active";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.reason = body?.reason ?? null;
    this.body = body;
  }
}

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY));
  } catch {
    return null;
  }
}

function save(tokens) {
  sessionStorage.setItem(KEY, JSON.stringify({
    access: tokens.access_token,
    refresh: tokens.refresh_token,
    accessExpires: tokens.access_expires_at,
  }));
}

export function touch() {
  sessionStorage.setItem(ACTIVE, String(Date.now()));
}

export function idleMs() {
  return Date.now() - Number(sessionStorage.getItem(ACTIVE) || Date.now());
}

let leaving = false;

export function signOut(reason) {
  if (leaving) return; // the first reason wins (an idle sign-out is not a lost session)
  leaving = true;
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(ACTIVE);
  const params = new URLSearchParams();
  if (reason) params.set("reason", reason);
  if (location.pathname !== "/login") params.set("next", location.pathname + location.search);
  location.assign(`/login?${params}`);
}

async function body(response) {
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) return response.json();
  return { message: await response.text() };
}

export async function signIn(username, password) {
  const response = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const data = await body(response);
  if (!response.ok) throw new ApiError(response.status, data);
  save(data);
  touch();
}

let refreshing = null;

function refresh() {
  const current = session();
  if (!current) return Promise.resolve(false);
  refreshing ??= fetch("/api/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: current.refresh }),
  })
    .then(async (response) => {
      if (!response.ok) return false;
      save(await response.json());
      return true;
    })
    .catch(() => false)
    .finally(() => { refreshing = null; });
  return refreshing;
}

/** Calls the API as the signed-in user; returns the JSON answer or throws an ApiError. */
export async function api(path, { method = "GET", json, query } = {}) {
  if (!session()) {
    signOut();
    return new Promise(() => {}); // the page is leaving for the sign-in page
  }
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const call = () => fetch(url, {
    method,
    headers: {
      Authorization: `Bearer ${session()?.access}`,
      ...(json !== undefined ? { "Content-Type": "application/json" } : {}),
    },
    body: json !== undefined ? JSON.stringify(json) : undefined,
  });
  let response = await call();
  if (response.status === 401 && await refresh()) response = await call();
  if (response.status === 401) {
    signOut("expired");
    return new Promise(() => {});
  }
  const data = await body(response);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** A fresh access token for the stream (refreshed when it is about to expire). */
export async function streamToken() {
  const current = session();
  if (!current) return null;
  const left = Date.parse(current.accessExpires) - Date.now();
  if (left < 30_000 && !(await refresh())) return null;
  return session()?.access ?? null;
}
