// The git log of the manifest directory with each commit's diff; revert through the API.
import { get, isAdmin, request } from "../api.js";
import { confirmDialog, errorBox, h, show } from "../ui.js";

function diffView(text) {
  return h("pre", { class: "diff" }, text.split("\n").map((line) => {
    const cls = line.startsWith("+++") || line.startsWith("---") ? "file" : line.startsWith("+") ? "add"
      : line.startsWith("-") ? "del" : line.startsWith("@@") ? "hunk" : "";
    return h("span", { class: cls }, line + "\n");
  }));
}

export async function historyView() {
  const { commits } = await get("/api/v1/history?limit=50");
  const out = h("div", { id: "revert-result" });
  show(h("h1", {}, "History"), out,
    commits.length ? commits.map((c) => h("article", { class: "card commit", "data-commit": c.commit },
      h("h3", {}, c.message),
      h("p", { class: "muted" }, `${c.author} · ${c.time} · `, h("code", {}, c.commit.slice(0, 12)), ` · ${c.files.join(", ")}`),
      h("details", { open: commits.indexOf(c) === 0 }, h("summary", {}, "diff"), diffView(c.diff)),
      isAdmin() && c.files.length === 1 ? h("button", { class: "write", onclick: () => revert(c, out) }, "Revert this change") : null))
      : h("p", { class: "muted" }, "The manifest directory is not a git repository, or has no commits."));
}

async function revert(c, out) {
  if (!(await confirmDialog(`Revert ${c.commit.slice(0, 12)}?`, `A new commit undoes “${c.message}” on ${c.files.join(", ")}; the host changes on the next apply.`))) return;
  try {
    const r = await request("POST", `/api/v1/history/${c.commit}/revert`);
    await historyView();
    document.getElementById("revert-result").replaceChildren(h("p", { class: "ok" }, `Reverted in ${(r.data.commit || "").slice(0, 12)}. `, h("a", { href: "#/plan" }, "See the plan →")));
  } catch (e) {
    out.replaceChildren(errorBox(e));
  }
}
