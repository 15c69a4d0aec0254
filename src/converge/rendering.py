"""converge's Jinja2 templates (src/converge/templates/): one environment for every rendered host file.

Jinja2 is imported when a file is first rendered, not by every command."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("converge", "templates"), trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
                              autoescape=False)


def render(template: str, **values: Any) -> str:
    return str(_environment().get_template(template).render(**values))
