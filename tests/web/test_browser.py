"""The web page in a real browser against a real `converge serve` (simulated host)."""

from __future__ import annotations

import json
import os
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from converge.manifest import load_unchecked

from .conftest import Server, git, sign_in

pytestmark = pytest.mark.real

SHOTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def shots_dir(tmp_path: Path) -> Path:
    """CONVERGE_SCREENSHOTS=DIR keeps them (docs/screenshots/ holds committed copies)."""
    d = Path(os.environ.get("CONVERGE_SCREENSHOTS") or tmp_path / "screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


def screenshot(page, directory: Path, name: str) -> None:
    for width, size in SHOTS.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(directory / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size(SHOTS["desktop"])


def count(page, kind: str, what: str) -> str:
    return page.inner_text(f'#kinds [data-kind="{kind}"] [data-count="{what}"]').strip()


def confirm(page) -> None:
    page.click("#confirm-ok")


def api(server: Server, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.url + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def signed_in_page(server, browser) -> tuple[Any, list[str]]:
    """A page signed in as alice, and the exceptions its scripts raise (a test ends asserting none)."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, server, "alice")
    return page, errors


def test_edit_plan_apply_history_in_the_browser(server, browser, tmp_path):
    shots = shots_dir(tmp_path)
    page, errors = signed_in_page(server, browser)
    assert page.inner_text("#who") == "alice (admin)"  # name and role from /api/v1/auth/me
    # examples/homelab, applied: every dataset declared and on the host, nothing drifted
    datasets = str(len(load_unchecked(str(server.directory))[0].specs("dataset")))
    assert (count(page, "datasets", "declared"), count(page, "datasets", "host"), count(page, "datasets", "drifted")) == (datasets, datasets, "0")
    assert count(page, "pools", "declared") == "1" and page.is_visible("#converged")
    screenshot(page, shots, "overview")

    page.goto(server.url + "/#/resource?c=datasets&n=tank/media/music")
    page.wait_for_selector("#edit-form")
    page.fill('#edit-form [name="properties.quota"]', "lots")
    page.click("#edit-form button[type=submit]")
    error = page.wait_for_selector('[data-field="properties.quota"] .field-error:not(:empty)')
    assert re.search(r"storage\.yaml:\d+: 'lots' is not a size", error.inner_text())
    page.fill('#edit-form [name="properties.quota"]', "300G")
    page.click("#edit-form button[type=submit]")
    page.wait_for_selector("#saved")

    page.goto(server.url + "/#/history")
    first = page.wait_for_selector("article.commit")
    assert "alice ·" in first.inner_text() and "api: update dataset tank/media/music" in first.inner_text()
    changed = [line for line in first.query_selector("pre.diff").inner_text().splitlines()
               if line[:1] in ("+", "-") and not line.startswith(("+++", "---"))]
    assert changed == ["-    properties: {quota: 200G}", "+    properties: {quota: 300G}"]
    screenshot(page, shots, "history")

    page.goto(server.url + "/#/plan")
    change = page.wait_for_selector('.change[data-ref="dataset/tank/media/music"]')
    assert "~ properties.quota: 200G → 300G" in change.inner_text()
    assert page.query_selector_all(".change") == [change] or len(page.query_selector_all(".change")) == 1
    screenshot(page, shots, "plan")
    page.click("#apply")
    confirm(page)
    page.wait_for_selector('#verdict:text-is("converged")', timeout=60_000)  # CSP: no eval, so no wait_for_function
    assert "~ dataset/tank/media/music: done" in page.inner_text("#progress")
    for _ in range(40):  # /health is cached for 5 s: the overview names the apply once it refreshes
        page.goto(server.url + "/#/")
        page.reload()
        page.wait_for_selector("#kinds")
        if page.query_selector("#last-apply") and "by alice" in page.inner_text("#last-apply"):
            break
        page.wait_for_timeout(250)
    assert re.fullmatch(r"done at \S+Z by alice \(job \w+\)", page.inner_text("#last-apply")), page.inner_text("body")[:500]

    page.goto(server.url + "/#/resource?c=datasets&n=tank/media/music")
    page.wait_for_selector("#edit-form")
    assert page.query_selector(".badge.drift") is None and "in sync" in page.inner_text("h1")
    assert not errors, errors


def test_revert_from_the_history(server, browser):
    page = browser.new_page()
    status, _ = api(server, "PATCH", "/api/v1/datasets/tank/media/music", server.tokens["alice"], {"properties": {"quota": "250G"}})
    assert status == 200
    sign_in(page, server, "alice")
    page.goto(server.url + "/#/history")
    page.wait_for_selector("article.commit button").click()
    confirm(page)
    page.wait_for_selector("#revert-result .ok")
    assert "quota: 200G" in (server.directory / "storage.yaml").read_text()
    assert git(server.directory, "log", "-1", "--format=%an %s").startswith("alice api: revert ")


def test_a_viewer_sees_no_write_buttons_and_a_forged_post_is_refused(server, browser):
    page = browser.new_page()
    sign_in(page, server, "victor")
    assert page.inner_text("#who") == "victor (viewer)"
    for where in ("#/list?c=datasets", "#/resource?c=datasets&n=tank/media", "#/resource?c=containers&n=jellyfin", "#/plan", "#/history", "#/approvals", "#/yaml?f=storage.yaml"):
        page.goto(server.url + "/" + where)
        page.wait_for_selector("main h1")
        page.wait_for_load_state("networkidle")
        assert page.query_selector_all(".write") == [], where  # no write button, form or action
    answer = page.evaluate("""async () => {
        const token = JSON.parse(sessionStorage.getItem("converge.session")).token;
        const r = await fetch("/api/v1/datasets/tank/media", {method: "PATCH",
            headers: {Authorization: `Bearer ${token}`, "Content-Type": "application/json"},
            body: JSON.stringify({properties: {quota: "1G"}})});
        return [r.status, await r.text()];
    }""")
    assert answer[0] == 403 and "needs admin" in answer[1]
    assert "quota: 2T" in (server.directory / "storage.yaml").read_text()


def test_a_held_destroy_is_approved_from_the_page(server, browser):
    status, _ = api(server, "DELETE", "/api/v1/snapshots/tank/media@2026-11-01", server.tokens["alice"])
    assert status == 200
    page = browser.new_page()
    sign_in(page, server, "alice")
    assert page.is_visible(".banner.danger")
    page.goto(server.url + "/#/approvals")
    page.wait_for_selector('.held[data-ref="snapshot/tank/media@2026-11-01"] button').click()
    confirm(page)
    page.wait_for_selector("#approved")
    assert "snapshot/tank/media@2026-11-01" in page.inner_text("#approved")
    assert api(server, "GET", "/api/v1/approvals", server.tokens["alice"])[1]["approved"] == ["snapshot/tank/media@2026-11-01"]
    # the plan offers the approved destroy to this apply (checked), and the apply carries it out
    page.goto(server.url + "/#/plan")
    assert page.wait_for_selector('input[name=allow][value="snapshot/tank/media@2026-11-01"]').is_checked()
    assert "held" in page.inner_text('.change[data-ref="snapshot/tank/media@2026-11-01"]')
    page.click("#apply")
    assert "Destroyed on the host: snapshot/tank/media@2026-11-01" in page.inner_text("#confirm-text")
    confirm(page)
    page.wait_for_selector('#verdict:text-is("converged")', timeout=60_000)
    assert api(server, "GET", "/api/v1/snapshots/tank/media@2026-11-01", server.tokens["alice"])[0] == 404


def test_the_page_without_a_token_shows_only_the_sign_in_and_a_strict_policy(server, browser):
    page = browser.new_page()
    response = page.goto(server.url + "/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    page.wait_for_selector("#signin:not([hidden])")
    assert page.is_hidden("#nav")
    page.fill("#token-form input[name=token]", "cvg_not-a-token")
    page.click("#token-form button")
    assert "not valid" in page.wait_for_selector("#signin-error:not(:empty)").inner_text()


def test_create_from_a_form_an_action_behind_a_confirmation_and_the_yaml_editor(server, browser):
    page, errors = signed_in_page(server, browser)
    page.goto(server.url + "/#/list?c=datasets")
    page.click("details.create summary")
    page.fill('#create-form [name="name"]', "tank/photos")
    page.fill('#create-form [name="properties.quota"]', "500G")
    page.select_option('#create-form [name="properties.compression"]', "zstd")
    page.click("#create-form button[type=submit]")
    page.wait_for_selector("#create-form #saved")
    declared = (server.directory / "storage.yaml").read_text().partition("tank/photos:")[2].partition("\n\n")[0]
    assert declared.split() == ["properties:", "compression:", "zstd", "quota:", "500G"]

    page.goto(server.url + "/#/resource?c=containers&n=jellyfin")
    page.click(".actions button:text-is('restart')")
    assert "restart_requested" in page.inner_text("#confirm-text")  # the dialog names the YAML change
    page.click("#confirm button[value=cancel]")
    assert "restart_requested" not in (server.directory / "apps.yaml").read_text()
    page.click(".actions button:text-is('restart')")
    confirm(page)
    page.wait_for_selector("#action-result .ok")
    assert "restart_requested" in (server.directory / "apps.yaml").read_text()

    page.goto(server.url + "/#/resource?c=datasets&n=tank/media")
    page.fill('.actions input[name="snapshot"]', "before-upgrade")
    page.click(".actions button:text-is('snapshot')")
    assert "tank/media@before-upgrade" in page.inner_text("#confirm-text")
    confirm(page)
    page.wait_for_selector("#action-result .ok")
    assert any("tank/media@before-upgrade" in f.read_text() for f in server.directory.glob("*.yaml"))

    page.goto(server.url + "/#/yaml?f=storage.yaml&line=14")
    page.wait_for_selector("#yaml")
    text = page.input_value("#yaml")
    page.fill("#yaml", text.replace("quota: 2T", "quota: 4T"))
    page.click("#validate")  # checked and planned by the server, not written
    assert "~ properties.quota: 2T → 4T" in page.wait_for_selector("#save-result .change").inner_text()
    assert "quota: 2T" in (server.directory / "storage.yaml").read_text()
    page.fill("#yaml", text.replace("quota: 2T", "quota: lots"))
    page.click("#validate")
    assert "'lots' is not a size" in page.wait_for_selector("#save-result .error").inner_text()
    with page.expect_response(lambda r: "/api/v1/manifests/" in r.url and r.request.method == "PUT") as put:
        page.click("text=Validate and save")
    assert put.value.status == 422
    assert "'lots' is not a size" in page.wait_for_selector("#save-result .error").inner_text()
    assert "quota: 2T" in (server.directory / "storage.yaml").read_text()  # nothing saved
    # someone else edits the file meanwhile: the save is refused (ETag), the text stays in the editor
    assert api(server, "PATCH", "/api/v1/datasets/tank/appdata", server.tokens["alice"], {"properties": {"recordsize": "32K"}})[0] == 200
    page.fill("#yaml", text.replace("quota: 2T", "quota: 3T"))
    with page.expect_response(lambda r: "/api/v1/manifests/" in r.url and r.request.method == "PUT") as put:
        page.click("text=Validate and save")
    assert put.value.status == 412
    # the answer replaces the earlier validation error: wait for its text, not for any error shown
    page.wait_for_selector("#save-result .error:has-text('changed since you opened it')")
    assert "quota: 2T" in (server.directory / "storage.yaml").read_text()
    page.reload()
    page.wait_for_selector("#yaml")
    page.fill("#yaml", page.input_value("#yaml").replace("quota: 2T", "quota: 3T"))
    page.click("text=Validate and save")
    page.wait_for_selector("#save-result .ok")
    assert "quota: 3T" in (server.directory / "storage.yaml").read_text()
    assert not errors, errors


def test_account_sign_in_posts_to_the_login_route(server, browser):
    """An unknown account is not signed in (a server without /api/v1/auth/login says to use a token)."""
    page = browser.new_page()
    page.goto(server.url + "/")
    page.fill("#login-form input[name=username]", "alice")
    page.fill("#login-form input[name=password]", "secret")
    with page.expect_request("**/api/v1/auth/login") as sent:
        page.click("#login-form button")
    assert sent.value.method == "POST" and json.loads(sent.value.post_data) == {"username": "alice", "password": "secret"}
    message = page.wait_for_selector("#signin-error:not(:empty)").inner_text()
    assert page.is_hidden("#nav") and message
    if "/api/v1/auth/login" not in json.loads(urllib.request.urlopen(server.url + "/openapi.json", timeout=30).read())["paths"]:
        assert "use an API token" in message


def test_a_list_field_is_edited_one_item_a_line(server, browser):
    page, errors = signed_in_page(server, browser)
    page.goto(server.url + "/#/resource?c=shares/smb&n=media")
    field = page.wait_for_selector('#edit-form textarea[name="write_list"]')
    assert field.input_value() == "alice"
    field.fill("alice\nbad user!")
    page.click("#edit-form button[type=submit]")
    error = page.wait_for_selector('[data-field="write_list"] .field-error:not(:empty)')
    assert re.match(r"shares\.yaml:\d+: ", error.inner_text()) and "bad user!" in error.inner_text()
    assert "bad user!" not in (server.directory / "shares.yaml").read_text()  # refused: nothing written
    field.fill("alice\n  bob \n\n")
    page.click("#edit-form button[type=submit]")
    page.wait_for_selector("#edit-form #saved")
    media = (server.directory / "shares.yaml").read_text().partition("media:")[2].partition("backups:")[0]
    assert "write_list: [alice, bob]" in media
    assert not errors, errors
