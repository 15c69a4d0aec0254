// The fleet: the inventory's hosts with their agents' last reports, a connection test per host
// (admin), one host's plan (drawn by views/plan.js), every host's plan, and an apply of them all.
import { get, isAdmin, isOperator, request } from "../api.js";
import { badge, confirmDialog, errorBox, h, show } from "../ui.js";
import { renderPlan } from "./plan.js";

const BAD_RESULTS = ["failed", "error", "invalid"];
const hostPlanHref = (name) => `#/hostplan?h=${encodeURIComponent(name)}`;

// The inventory, or none where the server has no fleet (no hosts declared: a 409).
export async function fleetHosts() {
  return get("/api/v1/hosts").then((r) => r.hosts).catch(() => []);
}

// How many hosts' agents last reported a failure, and how many drift.
export function fleetCounts(hosts) {
  const reported = hosts.map((x) => x.status).filter(Boolean);
  return {
    hosts: hosts.length,
    failed: reported.filter((s) => BAD_RESULTS.includes(s.last_apply.result)).length,
    drifted: reported.filter((s) => s.drift > 0).length,
  };
}

function agentCell(status) {
  if (!status) return h("span", { class: "muted" }, "no report");
  const a = status.last_apply;
  const kind = BAD_RESULTS.includes(a.result) ? "danger" : status.drift ? "warn" : "ok";
  return [badge(a.result, kind), ` at ${a.at}`, h("span", { class: "muted" }, ` (received ${status.age_seconds} s ago)`),
    h("div", { "data-drift": status.drift }, status.drift ? badge(`${status.drift} drift`, "warn") : "no drift")];
}

function testText(t) {
  if (t.ok) return `ok: reachable, tools present (${t.seconds} s)`;
  const why = [t.key_known === false ? "host key unknown" : null, t.error, t.missing.length ? `missing: ${t.missing.join(", ")}` : null];
  return `not ok: ${why.filter(Boolean).join("; ") || "unreachable"}`;
}

async function testConnection(name, button, out) {
  button.disabled = true;
  out.className = "test-result muted";
  out.textContent = "testing…";
  try {
    const t = (await request("POST", `/api/v1/hosts/${encodeURIComponent(name)}/test`)).data;
    out.className = `test-result ${t.ok ? "ok" : "error"}`;
    out.textContent = testText(t);
  } catch (e) {
    out.replaceChildren(errorBox(e));
  } finally {
    button.disabled = false;
  }
}

function hostRow(x) {
  const out = h("div", { class: "test-result" });
  const button = isAdmin() ? h("button", { class: "write test", type: "button" }, "Test connection") : null;
  if (button) button.addEventListener("click", () => testConnection(x.name, button, out));
  return h("tr", { "data-host": x.name },
    h("td", {}, h("strong", {}, x.name)), h("td", {}, h("code", {}, x.address)),
    h("td", {}, [...x.groups.map((g) => badge(g)), ...x.tags.map((t) => badge(`#${t}`))]),
    h("td", { class: "agent" }, agentCell(x.status)),
    h("td", {}, h("a", { class: "plan-link", href: hostPlanHref(x.name) }, "Plan"), " ", button, out));
}

function rowsTable(id, rows, cells) {
  return h("table", { id }, h("thead", {}, h("tr", {}, cells.map(([title]) => h("th", {}, title)))),
    h("tbody", {}, rows.map((r) => h("tr", { "data-host": r.name, class: r.ok ? "" : "failed" },
      cells.map(([, cell]) => h("td", {}, cell(r)))))));
}

async function planAll(out) {
  out.replaceChildren(h("p", { class: "muted" }, "Planning every host…"));
  try {
    const fleet = await get("/api/v1/fleet/plan");
    out.replaceChildren(
      h("p", { class: "summary" }, `${fleet.total} host(s): ${fleet.with_changes} with changes, ${fleet.failed} failed.`),
      rowsTable("fleet-plan", fleet.hosts, [
        ["host", (r) => h("a", { href: hostPlanHref(r.name) }, r.name)],
        ["result", (r) => h("span", { class: r.ok ? "" : "error" }, r.result)],
        ["changes", (r) => (r.ok ? String(r.changes) : "—")]]));  // third: hidden on a phone (app.css), the result says it
  } catch (e) {
    out.replaceChildren(errorBox(e));
  }
}

async function finished(id) {
  for (;;) {
    const job = await get(`/api/v1/jobs/${id}`);
    if (job.status === "done" || job.status === "failed") return job;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function applyAll(hosts, button, out) {
  const names = hosts.map((x) => x.name).join(", ");
  if (!(await confirmDialog("Apply on every host?", `Every host of the inventory is reconciled now: ${names}.\nHeld destroys stay held.`))) return;
  button.disabled = true;
  out.replaceChildren(h("p", { class: "muted", id: "fleet-apply-status" }, "Applying…"));
  try {
    const job = await finished((await request("POST", "/api/v1/fleet/apply")).data.id);
    const rows = (job.report || {}).hosts || [];
    out.replaceChildren(
      h("p", { id: "fleet-apply-status", class: `banner ${job.status === "done" ? "ok" : "warn"}` },
        `Job ${job.id}: ${job.status}${job.error ? ` (${job.error})` : ""}; ${rows.filter((r) => !r.ok).length} of ${rows.length} host(s) failed.`),
      rowsTable("fleet-apply", rows, [["host", (r) => r.name], ["result", (r) => h("span", { class: r.ok ? "ok" : "error" }, r.result)]]));
  } catch (e) {
    out.replaceChildren(errorBox(e));
  } finally {
    button.disabled = false;
  }
}

export async function hostsView() {
  const hosts = (await get("/api/v1/hosts")).hosts;
  const planOut = h("section", { id: "fleet-plan-result" });
  const applyOut = h("section", { id: "fleet-apply-result" });
  const apply = isOperator() ? h("button", { class: "write primary", id: "apply-all", type: "button" }, "Apply all") : null;
  if (apply) apply.addEventListener("click", () => applyAll(hosts, apply, applyOut));
  show(
    h("h1", {}, "Hosts"),
    hosts.length ? h("table", { id: "hosts" },
      h("thead", {}, h("tr", {}, ["host", "address", "groups / tags", "agent", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, hosts.map(hostRow)))
      : h("p", { class: "muted" }, "No hosts: declare them under hosts: in converge.yaml."),
    h("p", {}, h("button", { id: "plan-all", type: "button", onclick: () => planAll(planOut) }, "Plan all"), apply),
    planOut, applyOut);
}

export async function hostPlanView(query) {
  const name = query.get("h") || "";
  const hosts = (await get("/api/v1/hosts")).hosts;
  let body;
  try {
    body = renderPlan(await get(`/api/v1/hosts/${encodeURIComponent(name)}/plan`));
  } catch (e) {  // an unreachable host: say why, and keep the switcher to the others
    body = errorBox(e);
  }
  // The host switcher: the same page for another host of the inventory.
  const switcher = h("select", { id: "host-switch", "aria-label": "host" },
    hosts.map((x) => h("option", { value: x.name, selected: x.name === name }, x.name)));
  switcher.addEventListener("change", () => { location.hash = hostPlanHref(switcher.value); });
  show(h("h1", {}, `Plan of ${name}`), h("p", {}, h("a", { href: "#/hosts" }, "← Hosts"), " ", switcher), body);
}
