"""The fleet on the web page, in a real browser against a real `converge serve` whose
converge.yaml lists two simulated hosts and one nobody answers for (tests/api's `with_fleet`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api.test_fleet_jobs import with_fleet

from converge.api.auth import create_token

from .conftest import Server, serving, sign_in
from .test_browser import api, confirm, screenshot, shots_dir, signed_in_page

pytestmark = pytest.mark.real


@pytest.fixture
def fleet_server(tmp_path: Path) -> Iterator[Server]:
    with serving(tmp_path, with_fleet) as started:
        started.tokens["olga"] = create_token(str(started.directory), "olga", "operator")
        yield started


def agent_reports(server: Server, name: str, result: str, drift: int) -> None:
    status = {"host": name, "last_apply": {"at": "2026-11-28T10:00:00Z", "result": result, "changes": 1},
              "drift": drift, "converged": drift == 0, "version": "test"}
    code, body = api(server, "POST", f"/api/v1/hosts/{name}/status", server.tokens["alice"], status)
    assert code == 200, body


def row(page, table: str, host: str) -> str:
    return page.inner_text(f'#{table} tr[data-host="{host}"]')


def test_the_hosts_table_the_fleet_card_and_connection_tests(fleet_server, browser):
    agent_reports(fleet_server, "backup", "failed", 0)
    agent_reports(fleet_server, "media", "changed", 2)
    page, errors = signed_in_page(fleet_server, browser)
    card = {what: page.inner_text(f'#fleet [data-count="{what}"]').strip() for what in ("hosts", "failed", "drifted")}
    assert card == {"hosts": "3", "failed": "1", "drifted": "1"}
    page.click("#nav-hosts")
    page.wait_for_selector("#hosts")
    assert [r.get_attribute("data-host") for r in page.query_selector_all("#hosts tbody tr")] == ["backup", "media", "nas2"]
    backup, media, nas2 = (row(page, "hosts", n) for n in ("backup", "media", "nas2"))
    assert "/homelab/.converge/backup.json" in backup and "#offsite" in backup and "failed at 2026-11-28T10:00:00Z" in backup
    assert "changed" in media and "2 drift" in media
    assert "ssh://root@127.0.0.1:1" in nas2 and "no report" in nas2

    page.click('#hosts tr[data-host="media"] button.test')
    good = page.wait_for_selector('#hosts tr[data-host="media"] .test-result:not(:has-text("testing"))')
    assert good.inner_text().startswith("ok: reachable") and "ok" in good.get_attribute("class").split()
    page.click('#hosts tr[data-host="nas2"] button.test')
    bad = page.wait_for_selector('#hosts tr[data-host="nas2"] .test-result:not(:empty):not(:has-text("testing"))', timeout=60_000)
    assert bad.inner_text().startswith("not ok: ") and "cannot reach ssh://root@127.0.0.1:1" in bad.inner_text()
    assert not errors, errors


def test_a_host_plan_plan_all_and_apply_all(fleet_server, browser, tmp_path):
    page, errors = signed_in_page(fleet_server, browser)
    expected = api(fleet_server, "GET", "/api/v1/hosts/backup/plan", fleet_server.tokens["alice"])[1]
    page.goto(fleet_server.url + "/#/hosts")
    page.click('#hosts tr[data-host="backup"] a.plan-link')
    page.wait_for_selector("h1:text-is('Plan of backup')")
    refs = [c.get_attribute("data-ref") for c in page.query_selector_all(".change")]
    assert refs and refs == [f"{c['ref']['kind']}/{c['ref']['name']}" for c in expected["changes"]]
    assert page.inner_text(".summary").startswith("Plan: ")
    page.select_option("#host-switch", "nas2")  # the switcher: the same page for another host
    assert "cannot reach ssh://root@127.0.0.1:1" in page.wait_for_selector("h1:text-is('Plan of nas2') ~ .error").inner_text()

    page.goto(fleet_server.url + "/#/hosts")
    page.click("#plan-all")
    page.wait_for_selector("#fleet-plan")
    assert "3 host(s): 2 with changes, 1 failed." in page.inner_text("#fleet-plan-result .summary")
    assert row(page, "fleet-plan", "backup").split("\t")[1:] == [f"{len(refs)} to change", str(len(refs))]
    assert "cannot reach" in row(page, "fleet-plan", "nas2")

    page.click("#apply-all")
    assert "backup, media, nas2" in page.inner_text("#confirm-text")
    confirm(page)
    status = page.wait_for_selector("#fleet-apply-status.banner", timeout=120_000).inner_text()
    assert status.endswith(": failed; 1 of 3 host(s) failed."), status  # the unreachable one fails alone
    assert row(page, "fleet-apply", "backup").split("\t")[1].startswith("converged (")
    assert row(page, "fleet-apply", "media").split("\t")[1].startswith("converged (")
    page.click("#plan-all")
    page.wait_for_selector("#fleet-plan-result .summary:has-text('0 with changes')")
    assert [row(page, "fleet-plan", n).split("\t")[1:] for n in ("backup", "media")] == [["no changes", "0"]] * 2
    screenshot(page, shots_dir(tmp_path), "hosts")
    assert not errors, errors


def test_who_sees_which_button(fleet_server, browser):
    page = browser.new_page()
    sign_in(page, fleet_server, "victor")
    page.goto(fleet_server.url + "/#/hosts")
    page.wait_for_selector("#hosts")
    page.wait_for_load_state("networkidle")
    assert page.query_selector_all(".write") == [] and page.is_visible("#plan-all")
    page.goto(fleet_server.url + "/#/hostplan?h=media")
    page.wait_for_selector("h1:text-is('Plan of media')")
    assert page.query_selector_all(".write") == []

    page = browser.new_page()
    sign_in(page, fleet_server, "olga")
    page.goto(fleet_server.url + "/#/hosts")
    page.wait_for_selector("#hosts")
    assert page.is_visible("#apply-all") and page.query_selector_all("button.test") == []  # the test is an admin's


def test_without_an_inventory_there_is_no_hosts_entry_or_fleet_card(server, browser):
    page, errors = signed_in_page(server, browser)
    page.wait_for_load_state("networkidle")
    assert page.is_hidden("#nav-hosts") and page.query_selector("#fleet") is None
    assert not errors, errors
