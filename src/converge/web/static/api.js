// The API client: the bearer token lives in sessionStorage (this tab only, never a cookie).
const KEY = "converge.session";

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || "";
    this.details = err.details || [];
  }
}

export function session() {
  try { return JSON.parse(sessionStorage.getItem(KEY)) || null; } catch { return null; }
}

export function saveSession(value) {
  if (value) sessionStorage.setItem(KEY, JSON.stringify(value));
  else sessionStorage.removeItem(KEY);
}

export const isAdmin = () => (session() || {}).role === "admin";
export const isOperator = () => ["operator", "admin"].includes((session() || {}).role);

function headers(extra = {}) {
  const s = session();
  return { ...(s && s.token ? { Authorization: `Bearer ${s.token}` } : {}), ...extra };
}

async function refreshed() {
  // An account session (not a pasted token) gets one retry with a fresh access token.
  const s = session();
  if (!s || !s.refresh) return false;
  const r = await fetch("/api/v1/auth/refresh", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: s.refresh }),
  });
  if (!r.ok) return false;
  const body = await r.json();
  saveSession({ ...s, token: body.access_token, refresh: body.refresh_token || s.refresh });
  return true;
}

// request(method, path, {json, text, headers}) -> {status, data, headers}; throws ApiError.
export async function request(method, path, opts = {}, retried = false) {
  const extra = { ...(opts.headers || {}) };
  let body;
  if (opts.json !== undefined) { body = JSON.stringify(opts.json); extra["Content-Type"] = "application/json"; }
  if (opts.text !== undefined) { body = opts.text; extra["Content-Type"] = "application/yaml"; }
  const r = await fetch(path, { method, headers: headers(extra), body });
  if (r.status === 401 && !retried && await refreshed()) return request(method, path, opts, true);
  const type = r.headers.get("content-type") || "";
  const data = r.status === 204 ? null : type.includes("json") ? await r.json() : await r.text();
  if (!r.ok) {
    if (r.status === 401) window.dispatchEvent(new CustomEvent("converge:signed-out"));
    throw new ApiError(r.status, typeof data === "object" ? data : null);
  }
  return { status: r.status, data, headers: r.headers };
}

export const get = (path) => request("GET", path).then((r) => r.data);

// Server-sent events over fetch (EventSource cannot send the bearer token).
// Resolves once the stream is open; onEvent(obj) for each event; returns a stop function.
export async function events(onEvent) {
  const ctrl = new AbortController();
  const r = await fetch("/api/v1/events?timeout=600", { headers: headers(), signal: ctrl.signal });
  if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  (async () => {
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) onEvent(JSON.parse(data));
        }
      }
    } catch { /* aborted */ }
  })();
  return () => ctrl.abort();
}

// Who the token belongs to: /auth/me where the server has it; else a write probe that changes
// nothing (an apply with a body the server refuses: 422 for an admin, 403 for a viewer).
export async function whoami(token) {
  const auth = { Authorization: `Bearer ${token}` };
  const me = await fetch("/api/v1/auth/me", { headers: auth });
  if (me.ok) { const b = await me.json(); return { name: b.name, role: b.role }; }
  const check = await fetch("/api/v1/jobs/whoami", { headers: auth });
  if (check.status === 401) throw new ApiError(401, { error: { message: "the token is not valid" } });
  const probe = await fetch("/api/v1/apply", {
    method: "POST", headers: { ...auth, "Content-Type": "application/json" }, body: JSON.stringify({ role_probe: true }),
  });
  const body = await probe.json().catch(() => ({}));
  if (probe.status === 422) return { name: "token", role: "admin" };  // the name needs /auth/me
  const m = /token '([^']+)' has role (\w+)/.exec((body.error || {}).message || "");
  return m ? { name: m[1], role: m[2] } : { name: "token", role: "viewer" };
}
