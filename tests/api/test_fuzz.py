"""No input gives a 500: random names, bodies and methods against every collection (hypothesis)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from converge.api import create_app
from converge.api.service import collections

from .conftest import api_client

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=10)
NAMES = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e, exclude_characters="?#%"), min_size=1, max_size=20) | \
    st.sampled_from(["tank/media", "tank/media@x", "jellyfin", "br0", "media", "tank", "../../etc"])
FIELDS = st.dictionaries(st.sampled_from(["properties", "path", "image", "ports", "state", "clients", "type",
                                          "vdevs", "quota", "name", "volumes", "addresses"]), JSON, max_size=4)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(collection=st.sampled_from(sorted(collections())), method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
       name=NAMES, body=FIELDS | JSON, action=st.sampled_from(["", "start", "stop", "restart", "scrub", "rollback",
                                                              "snapshots", "nope"]))
@example(collection="containers", method="POST", name="x", body={"[": None}, action="")  # a key like a pydantic tag
def test_no_input_gives_a_500(homelab, admin_token, collection, method, name, body, action):
    client = api_client(create_app(str(homelab), write_burst=10_000, write_rate=10_000), admin_token)
    url = f"/api/v1/{collection}"
    if method != "POST" or action:
        url += f"/{name}" + (f"/{action}" if action and method == "POST" else "")
    elif isinstance(body, dict):
        body = {"name": name, **body}
    r = client.request(method, url, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    assert r.status_code < 500, (method, url, body, r.text)
    if r.status_code >= 400:
        assert set(r.json()["error"]) == {"code", "message", "details"}
