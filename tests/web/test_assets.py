"""The page's files: no inline script or handler (the CSP forbids them), data never parsed as HTML,
every imported module shipped, every shipped file served."""

from __future__ import annotations

import re
from pathlib import Path

from converge import web

STATIC = Path(str(web.STATIC))


def test_no_inline_script_handler_or_html_parsing():
    html = (STATIC / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline <script>"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert "style=" not in html
    for js in STATIC.rglob("*.js"):
        text = js.read_text()
        for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function", "document.write"):
            assert forbidden not in text, f"{js.name}: {forbidden}"


def test_every_imported_module_is_shipped_and_served():
    served = {r.path for r in web.routes()}
    assert served == {"/", "/ui/{name:path}"}
    assets = web._assets()
    for js in STATIC.rglob("*.js"):
        for target in re.findall(r'^import .* from "(\.[^"]+)";$', js.read_text(), re.M):
            path = (js.parent / target).resolve().relative_to(STATIC.resolve()).as_posix()
            assert path in assets, f"{js.name} imports {target}, which is not served"
    for ref in re.findall(r'(?:src|href)="/ui/([^"]+)"', (STATIC / "index.html").read_text()):
        assert ref in assets
