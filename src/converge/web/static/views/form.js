// An edit form generated from the kind's JSON Schema (scalar fields, lists of scalars one item a
// line, one level of nested objects such as a dataset's properties). It sends a merge patch of the changed fields only; the
// server's errors (file:line, field path) are shown next to the fields they name.
import { request } from "../api.js";
import { meta, resolve } from "../meta.js";
import { errorBox, h } from "../ui.js";

const SKIP = /(_requested|^rollback_to)$/;  // request stamps: set by actions, not typed in

function alternatives(schemas, node) {
  node = resolve(schemas, node);
  const alts = node.anyOf ? node.anyOf.flatMap((a) => alternatives(schemas, a)) : [node];
  return alts.filter((a) => a.type !== "null");
}

function fieldsOf(schemas, schema, prefix = "", depth = 0) {
  const out = [];
  for (const [key, raw] of Object.entries(resolve(schemas, schema).properties || {})) {
    if (key === "name" || SKIP.test(key)) continue;
    const alts = alternatives(schemas, raw);
    const object = alts.find((a) => a.type === "object" && a.properties);
    if (object && depth === 0) { out.push(...fieldsOf(schemas, object, `${prefix}${key}.`, 1)); continue; }
    const help = resolve(schemas, raw).description || alts.map((a) => a.description).find(Boolean) || "";
    if (alts.length && alts.every((a) => a.type === "array" && a.items)) {  // a list of users, datasets, ports...
      const items = alternatives(schemas, alts[0].items);
      if (items.length && items.every((a) => ["string", "integer", "number"].includes(a.type) || a.enum)) {
        out.push({ path: prefix + key, alts: items, list: true, help: help || "one a line" });
      }
      continue;
    }
    const scalar = alts.every((a) => ["string", "integer", "number", "boolean"].includes(a.type) || a.enum);
    if (!scalar || !alts.length) continue;
    const size = (resolve(schemas, raw).anyOf || []).some((a) => a["x-converge-size"]);
    out.push({ path: prefix + key, alts, size, help });
  }
  return out;
}

function valueAt(obj, path) {
  return path.split(".").reduce((o, k) => (o && typeof o === "object" ? o[k] : undefined), obj);
}

// 2199023255552 -> "2T": a size shown in the largest unit that divides it exactly
function sizeText(n) {
  let v = Number(n), i = 0;
  while (v && v % 1024 === 0 && i < 6) { v /= 1024; i++; }
  return i ? `${v}${"BKMGTPE"[i]}` : String(n);
}

function input(field, current) {
  if (field.list) {
    const text = Array.isArray(current) ? current.join("\n") : "";
    return h("textarea", { name: field.path, "data-initial": text, rows: Math.max(2, (Array.isArray(current) ? current.length : 0) + 1) }, text);
  }
  if (field.size && typeof current === "number") current = sizeText(current);
  const enums = field.alts.flatMap((a) => a.enum || []);
  const bool = field.alts.some((a) => a.type === "boolean");
  const text = current === undefined || current === null ? "" : String(current);
  if (enums.length || (bool && field.alts.length === 1)) {
    const options = ["", ...new Set([...(bool ? ["true", "false"] : []), ...enums.map(String)])];
    if (text && !options.includes(text)) options.push(text);
    return h("select", { name: field.path, "data-initial": text }, options.map((o) => h("option", { value: o, selected: o === text }, o || "(not set)")));
  }
  return h("input", { name: field.path, value: text, "data-initial": text, inputmode: field.alts.every((a) => a.type === "integer") ? "numeric" : null });
}

function convert(field, text) {
  if (text === "") return null;  // a list emptied is taken out of the manifest
  if (field.list) return text.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => convert({ alts: field.alts }, l));
  const types = field.alts.map((a) => a.type);
  if (types.includes("boolean") && (text === "true" || text === "false") && !field.alts.some((a) => (a.enum || []).includes(text))) return text === "true";
  if ((types.includes("integer") || types.includes("number")) && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

function setPath(obj, path, value) {
  const keys = path.split(".");
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k] ||= {};
  o[keys.at(-1)] = value;
}

export async function editForm(coll, item, etag, path) {
  return schemaForm(coll, `Edit ${item.name}`, item.desired, false, (patch) =>
    request("PATCH", path, { json: patch, headers: etag ? { "If-Match": etag } : {} }));
}

export async function createForm(coll, kind) {
  return schemaForm(coll, `New ${kind}`, {}, true, (fields) => request("POST", `/api/v1/${coll}`, { json: fields }));
}

async function schemaForm(coll, title, initial, withName, send) {
  const { collections, schemas } = await meta();
  const entry = collections.find((c) => c.name === coll);
  const fields = fieldsOf(schemas, schemas[entry.schema]);
  const all = withName ? [{ path: "name", alts: [{ type: "string" }], help: "the new resource's name" }, ...fields] : fields;
  if (!fields.length && !withName) return null;
  const result = h("div", { class: "form-result" });
  const rows = all.map((f) => h("label", { class: "field", "data-field": f.path },
    h("span", {}, f.path), input(f, valueAt(initial, f.path)),
    f.help ? h("small", { class: "muted" }, f.help) : null, h("small", { class: "field-error" })));
  const form = h("form", { class: "card edit", id: withName ? "create-form" : "edit-form" }, h("h2", {}, title), ...rows,
    h("button", { type: "submit", class: "write" }, withName ? "Create in git" : "Save to git"), result);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    form.querySelectorAll(".field-error").forEach((e) => (e.textContent = ""));
    const body = {};
    for (const f of all) {
      const el = form.elements[f.path];
      if (el.value !== el.dataset.initial) setPath(body, f.path, convert(f, el.value.trim()));
    }
    if (!Object.keys(body).length) { result.replaceChildren(h("p", { class: "muted" }, "Nothing changed.")); return; }
    try {
      const r = await send(body);
      result.replaceChildren(h("p", { class: "ok", id: "saved" }, `Committed ${(r.data.commit || "").slice(0, 12)} to ${r.data.file}. `,
        h("a", { href: "#/plan" }, "See the plan →"), " ", h("a", { href: "#/history" }, "History →")));
    } catch (e) {
      let placed = false;
      for (const d of e.details || []) {
        const path = (d.path || "").replace(/\.\d+$/, "");  // an item of a list: its field
        const field = all.find((f) => path && (path === f.path || path.endsWith("." + f.path)));
        if (field) {
          form.querySelector(`[data-field="${CSS.escape(field.path)}"] .field-error`).textContent =
            `${d.file ? d.file.split("/").pop() : ""}:${d.line || ""}: ${d.message}`;
          placed = true;
        }
      }
      result.replaceChildren(errorBox(e), placed ? h("p", { class: "muted" }, "See the fields above.") : null);
    }
  });
  return form;
}
