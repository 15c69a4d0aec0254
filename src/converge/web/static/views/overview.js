// Overview: a card per kind (declared / on host / drifted / held), pool capacity, last apply.
import { get } from "../api.js";
import { meta, kindOf } from "../meta.js";
import { badge, fmtBytes, h, show } from "../ui.js";
import { fleetCounts, fleetHosts } from "./hosts.js";

export async function overview() {
  const { collections } = await meta();
  const [health, plan, schedules, lists, hosts] = await Promise.all([
    get("/api/v1/health"),
    get("/api/v1/plan"),
    get("/api/v1/schedules").catch(() => ({ lines: [] })),
    Promise.all(collections.map((c) => get(`/api/v1/${c.name}?limit=1000`).then((l) => [c.name, l.items]))),
    fleetHosts(),
  ]);
  const held = {};
  for (const c of plan.changes) if (c.blocked) held[c.ref.kind] = (held[c.ref.kind] || 0) + 1;
  const banners = [];
  const drifting = plan.changes.filter((c) => !c.blocked).length;
  if (drifting) banners.push(h("a", { class: "banner warn", href: "#/plan" }, `The host differs from git: ${drifting} change(s) to apply. See the plan →`));
  const heldDestroys = plan.changes.filter((c) => c.blocked && ["-", "-/+"].includes(c.action)).length;
  if (heldDestroys) banners.push(h("a", { class: "banner danger", href: "#/approvals" }, `${heldDestroys} destroy(s) held for an approval →`));
  if (!drifting && !heldDestroys) banners.push(h("p", { class: "banner ok", id: "converged" }, "The host matches git: converged."));

  const cards = lists.filter(([, items]) => items.length).map(([coll, items]) => {
    const kind = kindOf(coll);
    const n = {
      declared: items.filter((i) => i.desired !== null).length,
      host: items.filter((i) => i.actual !== null).length,
      drifted: items.filter((i) => i.drift.length).length,
      held: held[kind] || 0,
    };
    return h("a", { class: "card kind", href: `#/list?c=${encodeURIComponent(coll)}`, "data-kind": coll },
      h("h3", {}, coll),
      h("dl", {},
        h("dt", {}, "declared"), h("dd", { "data-count": "declared" }, n.declared),
        h("dt", {}, "on host"), h("dd", { "data-count": "host" }, n.host),
        h("dt", {}, "drifted"), h("dd", { "data-count": "drifted" }, n.drifted ? badge(n.drifted, "warn") : "0"),
        h("dt", {}, "held"), h("dd", { "data-count": "held" }, n.held ? badge(n.held, "danger") : "0")));
  });

  const pools = (lists.find(([c]) => c === "pools") || [, []])[1].filter((p) => p.info && p.info.size);
  const poolCards = pools.map((p) => {
    const used = Number(p.info.allocated || 0), size = Number(p.info.size);
    const pct = size ? Math.round((100 * used) / size) : 0;
    return h("div", { class: "card pool" },
      h("h3", {}, `pool ${p.name} `, badge(p.info.health || "unknown", p.info.health === "ONLINE" ? "ok" : "warn")),
      h("progress", { class: "bar", max: size, value: used, "aria-label": `${pct}% used` }, `${pct}%`),
      h("p", { class: "muted" }, `${fmtBytes(used)} used, ${fmtBytes(p.info.free)} free of ${fmtBytes(size)}`),
      p.info.last_scrub ? h("p", { class: "muted" }, `last scrub: ${p.info.last_scrub}`) : null,
      p.desired && p.desired.scrub_schedule ? h("p", { class: "muted" }, `scrub schedule: ${p.desired.scrub_schedule}`) : null);
  });

  const fleet = fleetCounts(hosts);
  const fleetCard = fleet.hosts ? h("a", { class: "card", id: "fleet", href: "#/hosts" }, h("h3", {}, "Fleet"),
    h("dl", {},
      h("dt", {}, "hosts"), h("dd", { "data-count": "hosts" }, fleet.hosts),
      h("dt", {}, "failed"), h("dd", { "data-count": "failed" }, fleet.failed ? badge(fleet.failed, "danger") : "0"),
      h("dt", {}, "drifting"), h("dd", { "data-count": "drifted" }, fleet.drifted ? badge(fleet.drifted, "warn") : "0")),
    h("p", { class: "muted" }, "as their agents last reported")) : null;

  const last = health.last_apply;
  show(
    h("h1", {}, "Overview"),
    ...banners,
    h("section", { class: "grid" }, ...poolCards, fleetCard,
      h("div", { class: "card" }, h("h3", {}, "Last apply"),
        last ? h("p", { id: "last-apply" }, `${last.result} at ${last.time}${last.by ? ` by ${last.by}` : ""}${last.job ? ` (job ${last.job})` : ""}`)
          : h("p", { class: "muted" }, "none since the server started"),
        h("p", { class: "muted" }, `status: ${health.status}`)),
      schedules.lines.length ? h("div", { class: "card", id: "schedules" }, h("h3", {}, "Next runs"),
        h("ul", { class: "plain" }, schedules.lines.map((l) => h("li", {}, l)))) : null),
    h("h2", {}, "Resources"),
    h("section", { class: "grid", id: "kinds" }, ...cards),
  );
}
