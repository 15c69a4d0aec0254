// Resource lists and one resource's page: desired vs actual, drift per field, actions, edit form.
import { get, isAdmin, request } from "../api.js";
import { kindOf, meta } from "../meta.js";
import { badge, confirmDialog, errorBox, h, pretty, show } from "../ui.js";
import { createForm, editForm } from "./form.js";

const enc = encodeURIComponent;
export const resourceHref = (coll, name) => `#/resource?c=${enc(coll)}&n=${enc(name)}`;
const apiPath = (coll, name) => `/api/v1/${coll}/${name.split("/").map(enc).join("/")}`;

function status(item) {
  return [
    item.desired === null ? badge("not declared", "warn") : null,
    item.actual === null ? badge("not on host", "warn") : null,
    item.drift.length ? badge("drift", "warn drift") : null,
    item.desired !== null && item.actual !== null && !item.drift.length ? badge("in sync", "ok") : null,
  ];
}

export async function resourceList(params) {
  const coll = params.get("c");
  const q = params.get("q") || "";
  const list = await get(`/api/v1/${coll}?limit=1000${q ? `&q=${enc(q)}` : ""}`);
  const search = h("form", { class: "search", onsubmit: (ev) => { ev.preventDefault(); location.hash = `#/list?c=${enc(coll)}&q=${enc(ev.target.q.value)}`; } },
    h("input", { name: "q", value: q, placeholder: "search names and comments", "aria-label": "search" }), h("button", {}, "Search"));
  const rows = list.items.map((i) => h("tr", {},
    h("td", {}, h("a", { href: resourceHref(coll, i.name) }, i.name)),
    h("td", {}, status(i)),
    h("td", {}, i.file ? h("a", { href: `#/yaml?f=${enc(i.file)}&line=${i.line}` }, `${i.file}:${i.line}`) : "—")));
  const create = isAdmin() ? h("details", { class: "create" }, h("summary", { class: "write" }, `New ${kindOf(coll)}…`), await createForm(coll, kindOf(coll))) : null;
  show(h("h1", {}, coll), search, create,
    h("table", { class: "list" }, h("thead", {}, h("tr", {}, h("th", {}, "name"), h("th", {}, "status"), h("th", {}, "manifest"))), h("tbody", {}, rows)),
    h("p", { class: "muted" }, `${list.total} item(s)`));
}

export async function resourcePage(params) {
  const coll = params.get("c"), name = params.get("n");
  const { actions } = await meta();
  const r = await request("GET", apiPath(coll, name));
  const item = r.data, etag = r.headers.get("etag");
  const driftRows = item.drift.map((d) => h("tr", { class: "drift-row" },
    h("td", {}, h("code", {}, d.path || d.action)), h("td", {}, d.actual ?? ""), h("td", {}, d.desired ?? d.reason ?? "")));
  const out = h("div", { id: "action-result" });
  const buttons = [];
  if (isAdmin() && item.desired !== null) {
    for (const a of actions[coll] || []) {
      if (a.verb === "password" || a.verb === "snapshots") continue;  // need a body: not a one-click action
      const edit = !a.summary.includes("not an edit");
      buttons.push(h("button", { class: "write", onclick: () => act(`${a.verb} ${item.kind} ${name}`,
        edit ? `This commits to ${item.file}: ${a.summary}` : `${a.summary}; nothing in git changes.`,
        "POST", `${apiPath(coll, name)}/${a.verb}`, out) }, a.verb));
    }
    if ((actions[coll] || []).some((a) => a.verb === "snapshots")) buttons.push(snapshotForm(coll, name, item, out));
    buttons.push(h("button", { class: "write danger", onclick: () => act(`Remove ${name} from the manifests`,
      `This deletes the entry at ${item.file}:${item.line} and commits; the host changes on the next apply (a destroy is held for an approval).`,
      "DELETE", apiPath(coll, name), out, { "If-Match": etag }) }, "remove"));
  }
  show(
    h("p", {}, h("a", { href: `#/list?c=${enc(coll)}` }, `← ${coll}`)),
    h("h1", {}, `${item.kind} ${item.name} `, ...status(item)),
    item.file ? h("p", {}, "declared at ", h("a", { href: `#/yaml?f=${enc(item.file)}&line=${item.line}`, id: "manifest-link" }, `${item.file}:${item.line}`)) : null,
    item.drift.length ? h("table", { class: "drift" }, h("thead", {}, h("tr", {}, h("th", {}, "field"), h("th", {}, "on host"), h("th", {}, "in git"))), h("tbody", {}, driftRows)) : null,
    buttons.length ? h("div", { class: "actions" }, ...buttons) : null, out,
    h("div", { class: "sides" },
      h("section", {}, h("h2", {}, "Desired (git)"), h("pre", {}, pretty(item.desired))),
      h("section", {}, h("h2", {}, "Actual (host)"), h("pre", {}, pretty(item.actual)))),
    isAdmin() && item.desired !== null ? await editForm(coll, item, etag, apiPath(coll, name)) : null,
  );
}

function snapshotForm(coll, name, item, out) {
  const form = h("form", { class: "inline" }, h("input", { name: "snapshot", placeholder: "snapshot name", "aria-label": "snapshot name", required: true }),
    h("button", { class: "write" }, "snapshot"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const snap = form.elements.snapshot.value.trim();
    act(`Snapshot ${name}@${snap}`, `This declares snapshots: ${name}@${snap} in the manifests (a commit); the next apply takes it.`,
      "POST", `${apiPath(coll, name)}/snapshots`, out, {}, { name: snap });
  });
  return form;
}

async function act(title, text, method, path, out, headers = {}, json = undefined) {
  if (!(await confirmDialog(title, text))) return;
  try {
    const r = await request(method, path, { headers, json });
    out.replaceChildren(r.data && r.data.file
      ? h("p", { class: "ok" }, `Committed ${(r.data.commit || "").slice(0, 12)} to ${r.data.file}. `, h("a", { href: "#/plan" }, "See the plan →"))
      : h("pre", { class: "ok" }, JSON.stringify(r.data, null, 2)));
  } catch (e) {
    out.replaceChildren(errorBox(e));
  }
}
