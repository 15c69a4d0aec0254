// A manifest file in a text editor: saved with If-Match (ETag), validated by the server first.
import { isAdmin, request } from "../api.js";
import { errorBox, h, show } from "../ui.js";
import { renderChange } from "./plan.js";

export async function yamlEditor(params) {
  const file = params.get("f");
  const line = Number(params.get("line") || 0);
  const r = await request("GET", `/api/v1/manifests/${file.split("/").map(encodeURIComponent).join("/")}`);
  let etag = r.headers.get("etag");
  const area = h("textarea", { id: "yaml", spellcheck: "false", rows: 30, readonly: !isAdmin() });
  area.value = r.data;
  const out = h("div", { id: "save-result" });
  const save = isAdmin() ? h("button", { class: "write primary", onclick: async () => {
    try {
      const saved = await request("PUT", `/api/v1/manifests/${file}`, { text: area.value, headers: { "If-Match": etag } });
      etag = (await request("GET", `/api/v1/manifests/${file}`)).headers.get("etag");
      out.replaceChildren(h("p", { class: "ok" }, saved.data.commit ? `Validated and committed ${saved.data.commit.slice(0, 12)}. ` : "No change. ",
        h("a", { href: "#/plan" }, "See the plan →")));
    } catch (e) {
      out.replaceChildren(e.status === 412 ? errorBox(new Error("The file changed since you opened it; reload to see the new version (your text is still here).")) : errorBox(e));
      const first = (e.details || []).find((d) => d.line);
      if (first) selectLine(area, first.line);
    }
  } }, "Validate and save") : null;
  const check = isAdmin() ? h("button", { class: "write", id: "validate", onclick: async () => {
    try {
      const r = await request("POST", `/api/v1/validate/${file}`, { text: area.value });
      const changes = r.data.plan.changes;
      out.replaceChildren(h("p", { class: "ok" }, `Valid. Saved, the plan would have ${changes.length} change(s); nothing is written yet.`),
        ...changes.map(renderChange));
    } catch (e) {
      out.replaceChildren(errorBox(e));
      const first = (e.details || []).find((d) => d.line);
      if (first) selectLine(area, first.line);
    }
  } }, "Validate") : null;
  show(h("h1", {}, file), h("p", { class: "muted" }, "The server validates and plans the whole directory before it writes; nothing is saved if it does not."),
    area, check, save, out);
  if (line) selectLine(area, line);
}

function selectLine(area, line) {
  const lines = area.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  area.focus();
  area.setSelectionRange(start, start + (lines[line - 1] || "").length);
  area.scrollTop = Math.max(0, (line - 5) * 18);
}
