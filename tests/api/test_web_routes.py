"""The web page's shell and assets: public, strict headers; the API behind them still needs a token."""

from __future__ import annotations

from converge.api import create_app
from converge.api.auth import create_token

from .conftest import api_client


def test_the_shell_and_assets_are_served_with_a_strict_policy(homelab):
    create_token(str(homelab), "admin", "admin")
    anonymous = api_client(create_app(str(homelab)))
    page = anonymous.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp and "frame-ancestors 'none'" in csp
    assert "<script>" not in page.text and "onclick" not in page.text  # no inline script
    js = anonymous.get("/ui/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert js.headers["x-content-type-options"] == "nosniff"
    assert anonymous.get("/ui/views/plan.js").status_code == 200
    for missing in ("/ui/nope.js", "/ui/%2e%2e/__init__.py", "/ui/", "/ui/views/../../__init__.py"):
        assert anonymous.get(missing).status_code in (401, 404), missing  # only the files under static/ are served
    assert anonymous.get("/api/v1/datasets").status_code == 401  # the data is not public
    sneaky = anonymous.get("/ui/%2e%2e/api/v1/datasets")  # the public prefix never reaches an API route
    assert sneaky.status_code == 404 and "tank" not in sneaky.text
    assert anonymous.post("/", content=b"x").status_code in (401, 405)
