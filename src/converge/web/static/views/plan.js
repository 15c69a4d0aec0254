// The plan, drawn like the terminal (+ ~ -/+ -), and Apply with live per-change progress.
import { events, get, isAdmin, request } from "../api.js";
import { confirmDialog, errorBox, h, show } from "../ui.js";

const CLASS = { "+": "create", "~": "update", "-/+": "replace", "-": "delete" };

function stepText(s) {
  if (s.op === "run") return `$ ${s.argv.join(" ")}`;
  return `$ ${s.op} ${s.path || ""}${s.note ? `  # ${s.note}` : ""}`;
}

export function renderChange(c) {
  const destroy = c.action === "-" || c.action === "-/+";
  return h("div", { class: `change ${CLASS[c.action] || ""}${destroy ? " destroy" : ""}`, "data-ref": `${c.ref.kind}/${c.ref.name}` },
    h("div", { class: "head" }, h("code", { class: "sign" }, c.action), " ", h("strong", {}, `${c.ref.kind} ${c.ref.name}`),
      c.blocked ? h("span", { class: "badge danger" }, "held") : null),
    c.reason ? h("div", { class: "muted" }, `# ${c.reason}`) : null,
    c.blocked ? h("div", { class: "danger-text" }, `held: ${c.blocked}`) : null,
    (c.destroys || []).length ? h("div", { class: "danger-text" }, `takes with it: ${c.destroys.map((r) => r.name || r).join(", ")}`) : null,
    h("ul", { class: "diffs" }, (c.diffs || []).map((d) => h("li", {}, h("code", {},
      `~ ${d.path}: ${d.before_text} → ${d.after_text}${d.forces_replace ? "  (forces replacement)" : ""}`)))),
    (c.steps || []).length ? h("details", {}, h("summary", {}, `${c.steps.length} command(s)`),
      h("pre", {}, c.steps.map(stepText).join("\n"))) : null);
}

function summary(changes) {
  const n = (a) => changes.filter((c) => c.action === a).length;
  return `Plan: ${n("+")} to create, ${n("~")} to update, ${n("-/+")} to replace, ${n("-")} to destroy.`;
}

// A plan as the terminal shows it: destroys banner, the changes, the summary line, warnings.
// The server's own plan and an inventory host's (views/hosts.js) are drawn alike.
export function renderPlan(plan) {
  const destroys = plan.changes.filter((c) => c.action === "-" || c.action === "-/+");
  return [
    destroys.length ? h("p", { class: "banner danger" }, `This plan destroys ${destroys.length} resource(s): ${destroys.map((c) => `${c.ref.kind}/${c.ref.name}`).join(", ")}`) : null,
    plan.changes.length ? h("section", { class: "plan" }, plan.changes.map(renderChange))
      : h("p", { class: "banner ok" }, "No changes: the host matches the manifests."),
    h("p", { class: "summary" }, summary(plan.changes)),
    (plan.warnings || []).length ? h("ul", { class: "warnings" }, plan.warnings.map((w) => h("li", {}, String(w)))) : null,
  ];
}

export async function planView() {
  const [plan, approvals] = await Promise.all([get("/api/v1/plan"), get("/api/v1/approvals")]);
  const progress = h("ol", { id: "progress", class: "progress" });
  const verdict = h("p", { id: "verdict", role: "status" });
  const apply = isAdmin() && plan.changes.some((c) => !c.blocked || approvals.held.includes(`${c.ref.kind}/${c.ref.name}`))
    ? h("button", { class: "write primary", id: "apply", onclick: () => runApply(plan, progress, verdict) }, "Apply")
    : null;
  // Held destroys an admin may allow for this one apply: pre-checked when approved already.
  const allow = isAdmin() ? plan.changes.filter((c) => c.blocked && approvals.held.includes(`${c.ref.kind}/${c.ref.name}`)).map((c) => {
    const ref = `${c.ref.kind}/${c.ref.name}`;
    return h("label", { class: "allow" }, h("input", { type: "checkbox", name: "allow", value: ref, checked: approvals.approved.includes(ref) }),
      ` allow the destroy of ${ref} in this apply`);
  }) : [];
  show(
    h("h1", {}, "Plan"),
    renderPlan(plan),
    allow.length ? h("fieldset", { class: "allow" }, h("legend", {}, "Held destroys"), allow) : null,
    apply, progress, verdict);
}

async function runApply(plan, progress, verdict) {
  const allowed = [...document.querySelectorAll("input[name=allow]:checked")].map((i) => i.value);
  const count = plan.changes.filter((c) => !c.blocked).length + allowed.length;
  const destroys = allowed.length ? `\nDestroyed on the host: ${allowed.join(", ")}` : "";
  if (!(await confirmDialog("Apply the plan?", `${summary(plan.changes)}\n${count} change(s) will be made on the host now.${destroys}`))) return;
  document.getElementById("apply").disabled = true;
  progress.replaceChildren();
  verdict.textContent = "Applying…";
  const rows = {};
  let jobId = null;
  const early = [];
  const onEvent = (e) => {
    if (jobId === null) { early.push(e); return; }
    if (e.job !== jobId) return;
    if (e.event === "apply") {
      rows[e.ref] ||= progress.appendChild(h("li", {}));
      rows[e.ref].className = `step ${e.status}`;
      rows[e.ref].textContent = `${e.action} ${e.ref}: ${e.status}${e.detail ? ` — ${e.detail}` : ""}`;
    } else if (e.event === "job") finish(e.status);
  };
  let stop = () => {};
  const finish = async (status) => {
    stop();
    const job = await get(`/api/v1/jobs/${jobId}`);
    const after = await get("/api/v1/plan");
    const failed = (job.report.failed || []).map((f) => `${f.ref}: ${f.error}`);
    verdict.className = after.changes.length || status !== "done" ? "banner warn" : "banner ok";
    verdict.textContent = status !== "done" ? `Apply failed. ${job.error || ""} ${failed.join("; ")}`
      : after.changes.length ? `Applied; ${after.changes.length} change(s) remain (held or new).` : "converged";
  };
  try {
    stop = await events(onEvent);
    const r = await request("POST", "/api/v1/apply", { json: { allow_destroy: allowed } });
    jobId = r.data.id;
    early.splice(0).forEach(onEvent);
  } catch (e) {
    stop();
    verdict.replaceChildren(errorBox(e));
  }
}
