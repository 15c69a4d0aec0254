"""The OpenAPI document tells the truth: bodies that validate are bodies the server takes,
name patterns are the kinds' own, public routes need no token, every route lists its errors."""

from __future__ import annotations

import jsonschema
import pytest

from converge.api.openapi import openapi_document
from converge.api.service import collections
from converge.resources import BY_KIND


def validator(doc, schema: dict) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**schema, "components": doc["components"]})


def test_a_create_body_validates_and_the_server_takes_it(client):
    doc = client.get("/openapi.json").json()
    body = {"name": "tank/photos", "properties": {"quota": "500G"}}
    post = doc["paths"]["/api/v1/datasets"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    validator(doc, post).validate(body)  # name and spec fields in one object
    assert not validator(doc, post).is_valid({"properties": {}})  # the name is required
    assert not validator(doc, post).is_valid({**body, "colour": "red"})  # still no unknown fields
    assert client.post("/api/v1/datasets", json=body).status_code == 201
    put = doc["paths"]["/api/v1/datasets/{name}"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert not validator(doc, put).is_valid(body)  # the path names it: no name in a PUT body


@pytest.mark.parametrize("coll", list(collections()))
def test_every_collection_is_described_from_its_kind(coll):
    doc = openapi_document()
    kind = BY_KIND[collections()[coll]]
    one = doc["paths"][f"/api/v1/{coll}/{{name}}"]
    [param] = one["parameters"]
    assert param["schema"]["pattern"] == f"^(?:{kind.name_pattern.pattern})$"
    assert set(one["patch"]["responses"]) >= {"200", "400", "401", "403", "404", "409", "412", "413", "415", "421",
                                              "422", "429", "503"}
    assert all(r["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
               for code, r in one["delete"]["responses"].items() if code >= "400")
    listing = doc["paths"][f"/api/v1/{coll}"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"q", "sort", "offset", "limit", "page", "per_page", "drift",
                                                          "managed", *kind.spec.model_fields}
    assert "X-RateLimit-Remaining" in listing["responses"]["200"]["headers"]


def test_public_routes_need_no_token_and_the_rest_do():
    doc = openapi_document()
    public = {p for p, ops in doc["paths"].items() if ops.get("get", {}).get("security") == []}
    assert public == {"/api/v1/health", "/api/v1/ready", "/openapi.json", "/docs"}
    assert doc["security"] == [{"bearer": []}]


def test_a_method_a_path_lacks_is_405_with_every_allowed_one(client):
    r = client.delete("/api/v1/datasets")
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    assert r.json()["error"]["code"] == "method_not_allowed"
    r = client.put("/api/v1/containers/jellyfin/start", json={})
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_a_null_or_odd_apply_body_is_refused_not_a_server_error(client):
    for body in (b"null", b'{"allow_destroy": [{}]}', b'{"allow_destroy": "x"}', b'{"refs": []}'):
        r = client.post("/api/v1/apply", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, (body, r.text)
    r = client.post("/api/v1/approvals", content=b"null", headers={"Content-Type": "application/json"})
    assert r.status_code == 422


def test_a_body_over_the_limit_is_413(client):
    big = b'{"name": "tank/x", "pad": "' + b"x" * (1 << 20) + b'"}'
    r = client.post("/api/v1/datasets", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


def test_login_routes_are_public_and_list_their_errors():
    doc = openapi_document()
    paths = doc["paths"]
    for path in ("/api/v1/auth/login", "/api/v1/auth/refresh"):
        op = paths[path]["post"]
        assert op["security"] == []
        assert {"200", "401", "422", "429"} <= set(op["responses"])
        assert op["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TokenPair"}
    assert "security" not in paths["/api/v1/auth/logout"]["post"] and "204" in paths["/api/v1/auth/logout"]["post"]["responses"]
    assert doc["components"]["schemas"]["TokenPair"]["required"] == ["access_token", "refresh_token", "token_type",
                                                                     "expires_in", "role", "username"]
    assert doc["components"]["schemas"]["Me"]["required"] == ["name", "role", "expires"]
    for path in ("/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout", "/api/v1/auth/me",
                 "/api/v1/tokens", "/api/v1/tokens/{name}"):
        for method, op in paths[path].items():
            if method != "parameters":
                assert all(r["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
                           for code, r in op["responses"].items() if code >= "400"), (method, path)
