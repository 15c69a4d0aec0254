"""Collection lists: filters by field and status, q, sort, offset/limit and page/per_page."""

from __future__ import annotations

from converge import engine


def names(r) -> list[str]:
    assert r.status_code == 200, r.text
    return [i["name"] for i in r.json()["items"]]


def test_filter_by_a_top_level_field_and_by_status(client, homelab):
    assert client.post("/api/v1/containers/jellyfin/stop").status_code == 200
    assert names(client.get("/api/v1/containers?state=stopped")) == ["jellyfin"]
    assert "jellyfin" not in names(client.get("/api/v1/containers?state=running"))
    everything = names(client.get("/api/v1/datasets"))
    assert names(client.get("/api/v1/datasets?drift=true")) == everything  # nothing applied yet
    assert names(client.get("/api/v1/datasets?managed=true")) == []
    engine.reconcile(engine.open_target(str(homelab)))
    assert names(client.get("/api/v1/datasets?drift=true")) == []
    assert names(client.get("/api/v1/datasets?managed=true")) == everything
    assert names(client.get("/api/v1/datasets?protect=true")) == ["tank/backups"]


def test_q_searches_names_and_comments(client):
    assert client.post("/api/v1/shares/smb", json={"name": "scans", "path": "/srv/scratch",
                                                   "comment": "Office Scanner drop"}).status_code == 201
    assert names(client.get("/api/v1/shares/smb?q=scanner")) == ["scans"]  # the comment, any case
    assert names(client.get("/api/v1/datasets?q=never+destroyed")) == ["tank/backups"]  # its YAML comment
    assert names(client.get("/api/v1/pools?q=mirrored")) == []  # the comment above `pools:` is not tank's
    assert names(client.get("/api/v1/datasets?q=MEDIA")) == [n for n in names(client.get("/api/v1/datasets"))
                                                             if "media" in n]


def test_sort_any_field_both_ways(client):
    for i, quota in enumerate(["3G", "1G", "2G"]):
        client.post("/api/v1/datasets", json={"name": f"tank/s{i}", "properties": {"quota": quota}})
    up = names(client.get("/api/v1/datasets?sort=name"))
    assert up == sorted(up) and names(client.get("/api/v1/datasets?sort=-name")) == up[::-1]
    by_origin = names(client.get("/api/v1/datasets?sort=-protect"))
    assert by_origin[0] == "tank/backups"  # the only one with protect set; missing values go last
    r = client.get("/api/v1/datasets?sort=colour")
    assert r.status_code == 400 and r.json()["error"]["details"] == [{"parameter": "sort"}]


def test_pages_both_ways_with_total_and_has_next(client):
    every = names(client.get("/api/v1/datasets"))
    first = client.get("/api/v1/datasets?limit=2").json()
    assert [i["name"] for i in first["items"]] == every[:2] and first["total"] == len(every) and first["has_next"]
    page2 = client.get("/api/v1/datasets?page=2&per_page=2").json()
    assert [i["name"] for i in page2["items"]] == every[2:4] and page2["offset"] == 2 and page2["page"] == 2
    last = client.get(f"/api/v1/datasets?offset={len(every) - 1}&limit=5").json()
    assert len(last["items"]) == 1 and not last["has_next"]
    for bad in ("limit=0", "page=0", "per_page=x", "offset=-1", "drift=maybe", "limit=5000&page=2"):
        r = client.get(f"/api/v1/datasets?{bad}")
        assert r.status_code == 400 and r.json()["error"]["details"] == [{"parameter": bad.partition("=")[0]}], bad
    # schemathesis found an out-of-range limit taken silently when page was sent too


def test_unknown_query_parameters_are_named(client):
    r = client.get("/api/v1/containers?stat=stopped")
    assert r.status_code == 400 and "'stat'" in r.json()["error"]["message"]
    assert "state" in r.json()["error"]["message"]  # what it does take


def test_a_parameter_given_twice_is_named_not_silently_the_last(client):
    for query in ("state=running&state=stopped", "sort=name&sort=-name", "page=1&page=2"):
        r = client.get(f"/api/v1/containers?{query}")
        key = query.partition("=")[0]
        assert r.status_code == 400 and r.json()["error"]["details"] == [{"parameter": key}], query
        assert "more than once" in r.json()["error"]["message"]


def test_a_filter_value_a_field_can_never_have_is_a_400_with_the_allowed_ones(client):
    r = client.get("/api/v1/containers?state=paused")
    assert r.status_code == 400 and r.json()["error"]["details"] == [{"parameter": "state"}]
    assert "running" in r.json()["error"]["message"] and "stopped" in r.json()["error"]["message"]
    r = client.get("/api/v1/datasets?protect=maybe")
    assert r.status_code == 400 and r.json()["error"]["details"] == [{"parameter": "protect"}]
    assert names(client.get("/api/v1/containers?state=running"))  # what it can have still filters
    assert names(client.get("/api/v1/containers?image=nothing-like-it")) == []  # free text: no match, no error
    doc = client.get("/openapi.json").json()
    [state] = [p for p in doc["paths"]["/api/v1/containers"]["get"]["parameters"] if p["name"] == "state"]
    assert state["schema"]["enum"] == ["running", "stopped", "frozen"]  # the document says which values are taken


def test_filter_by_the_file_that_declares_an_item(client):
    every = client.get("/api/v1/datasets").json()["items"]
    in_storage = [i["name"] for i in every if i["file"] == "storage.yaml"]
    assert in_storage and names(client.get("/api/v1/datasets?file=storage.yaml")) == in_storage
    assert names(client.get("/api/v1/datasets?file=nowhere.yaml")) == []
