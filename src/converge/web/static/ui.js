// Small DOM helpers: elements are built node by node; data is never parsed as HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function show(...nodes) {
  const view = document.getElementById("view");
  view.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
}

export function loading(what) {
  show(h("p", { class: "muted" }, `Loading ${what}…`));
}

export function errorBox(err) {
  const details = (err.details || []).map((d) => h("li", {}, d.text || `${d.file || ""}${d.line ? ":" + d.line : ""} ${d.path || ""}: ${d.message || ""}`));
  return h("div", { class: "error", role: "alert" }, h("strong", {}, err.message || String(err)), details.length ? h("ul", {}, details) : null);
}

// A modal confirmation naming exactly what will change; resolves true on Confirm.
export function confirmDialog(title, text) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}` }, text);
}

export function fmtBytes(n) {
  if (n === null || n === undefined || n === "") return "";
  let v = Number(n);
  for (const unit of ["B", "K", "M", "G", "T", "P"]) {
    if (v < 1024 || unit === "P") return `${v.toFixed(v < 10 && unit !== "B" ? 1 : 0)}${unit}`;
    v /= 1024;
  }
  return String(n);
}

export const pretty = (v) => (v === null || v === undefined ? "—" : JSON.stringify(v, null, 2));
