// Held destroys and replacements, approved one by one (admin).
import { get, isAdmin, request } from "../api.js";
import { confirmDialog, errorBox, h, show } from "../ui.js";
import { renderChange } from "./plan.js";

export async function approvalsView() {
  const [approvals, plan] = await Promise.all([get("/api/v1/approvals"), get("/api/v1/plan")]);
  const byRef = Object.fromEntries(plan.changes.map((c) => [`${c.ref.kind}/${c.ref.name}`, c]));
  const out = h("div", { id: "approval-result" });
  const items = approvals.held.map((ref) => h("div", { class: "card held", "data-ref": ref },
    byRef[ref] ? renderChange(byRef[ref]) : h("strong", {}, ref),
    isAdmin() ? h("button", { class: "write danger", onclick: () => approve(ref, out) }, `Approve ${ref}`) : null));
  show(h("h1", {}, "Approvals"),
    items.length ? h("section", {}, items) : h("p", { class: "banner ok" }, "Nothing is held."),
    approvals.approved.length ? h("p", {}, "Approved, waiting for the next apply: ", h("span", { id: "approved" }, approvals.approved.join(", "))) : null,
    out);
}

async function approve(ref, out) {
  if (!(await confirmDialog(`Approve ${ref}?`, `The next apply destroys or replaces ${ref} on the host, with what it holds.`))) return;
  try {
    const r = await request("POST", "/api/v1/approvals", { json: { refs: [ref] } });
    await approvalsView();
    document.getElementById("approval-result").replaceChildren(h("p", { class: "ok" }, `Approved: ${r.data.approved.join(", ")}`));
  } catch (e) {
    out.replaceChildren(errorBox(e));
  }
}
