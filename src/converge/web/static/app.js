// The page: sign-in, a hash router, and the views. Everything goes through /api/v1.
import { ApiError, saveSession, session, whoami } from "./api.js";
import { meta } from "./meta.js";
import { loading, show, errorBox } from "./ui.js";
import { overview } from "./views/overview.js";
import { resourceList, resourcePage } from "./views/resources.js";
import { planView } from "./views/plan.js";
import { approvalsView } from "./views/approvals.js";
import { historyView } from "./views/history.js";
import { yamlEditor } from "./views/editor.js";
import { fleetHosts, hostPlanView, hostsView } from "./views/hosts.js";

const ROUTES = {
  "": overview, list: resourceList, resource: resourcePage, plan: planView,
  approvals: approvalsView, history: historyView, yaml: yamlEditor, hosts: hostsView, hostplan: hostPlanView,
};

// "Hosts" is in the menu only where the server has an inventory.
const hostsLink = document.getElementById("nav-hosts");
const showHostsLink = () => fleetHosts().then((hosts) => { hostsLink.hidden = !hosts.length; });

function signedIn(value) {
  saveSession(value);
  document.body.dataset.role = value ? value.role : "";
  document.getElementById("nav").hidden = !value;
  document.getElementById("signout").hidden = !value;
  document.getElementById("who").textContent = value ? `${value.name} (${value.role})` : "";
}

const signinSection = document.getElementById("signin");

function showSignin(message = "") {
  signedIn(null);
  signinSection.hidden = false;
  document.getElementById("signin-error").textContent = message;
  show(signinSection);
}

async function route() {
  const s = session();
  if (!s) return showSignin();
  signedIn(s);
  showHostsLink();
  const [name, query] = location.hash.replace(/^#\/?/, "").split("?");
  const view = ROUTES[name];
  if (!view) return show(errorBox(new Error(`no page ${name}`)));
  loading(name || "overview");
  try {
    await view(new URLSearchParams(query || ""));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return showSignin("Your session has ended; sign in again.");
    show(errorBox(e));
  }
}

document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  const r = await fetch("/api/v1/auth/login", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: form.get("username"), password: form.get("password") }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    const { doc } = await meta();  // an older server answers for the route it lacks with 401/404
    const msg = !doc.paths["/api/v1/auth/login"] ? "This server has no account sign-in; use an API token." : (body.error || {}).message;
    document.getElementById("signin-error").textContent = msg || `sign-in failed (HTTP ${r.status})`;
    return;
  }
  signedIn({ token: body.access_token, refresh: body.refresh_token, role: body.role, name: body.username });
  ev.target.reset();
  route();
});

document.getElementById("token-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const token = new FormData(ev.target).get("token").trim();
  try {
    const who = await whoami(token);
    signedIn({ token, role: who.role, name: who.name });
    ev.target.reset();
    route();
  } catch (e) {
    document.getElementById("signin-error").textContent = e.message;
  }
});

document.getElementById("signout").addEventListener("click", async () => {
  const s = session();
  if (s && s.refresh) {
    await fetch("/api/v1/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${s.token}` } }).catch(() => {});
  }
  showSignin();
});

window.addEventListener("converge:signed-out", () => showSignin("Your session has ended; sign in again."));
window.addEventListener("hashchange", route);
route();
