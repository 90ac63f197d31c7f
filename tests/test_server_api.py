"""The HTTP API over a real ``vecdex serve`` process and real store files: error
shapes, limits, auth, paging, dropping, metrics, startup checks."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from conftest import drop_pg_database, new_pg_database, run_vecdex
from serving import Server

import vecdex

DOCS = [{"id": f"d{i}", "text": text, "metadata": {"n": i}} for i, text in enumerate([
    "Heavy rain flooded the river valley overnight.",
    "The central bank raised interest rates again.",
    "Cats sleep most of the day in the sun.",
    "Bushfires threatened homes near Sydney.",
    "The football team won the cup final.",
])]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory):
    """One server per store kind: the same API answers the same on both."""
    folder = tmp_path_factory.mktemp("api")
    if request.param == "sqlite":
        db, admin = folder / "api.db", None
    else:
        admin = request.getfixturevalue("pg_server")
        db = new_pg_database(admin)
    try:
        with Server(db, "--max-body-mb", "0.05", "--max-batch", "50", "--max-k", "20", "--read-timeout", "0.5",
                    log_dir=folder, env={"VECDEX_CACHE_DIR": str(folder / "cache")}) as running:
            client = vecdex.Client(running.url)
            client.collection("news", create=True).add(DOCS)
            client.close()
            yield running
    finally:
        if admin is not None:
            drop_pg_database(admin, db)


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def error_of(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message"} and body["message"] and "\n" not in body["message"]
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize("method,path,body,status,code", [
    ("POST", "/v1/collections/news/search", {"query": "rain", "k": 0}, 422, "invalid_request"),
    ("POST", "/v1/collections/news/search", {"query": "rain", "vector": [1.0]}, 422, "invalid_request"),
    ("POST", "/v1/collections/news/search", {"k": 3}, 422, "invalid_request"),
    ("POST", "/v1/collections/news/search", {"query": "rain", "bogus": 1}, 422, "invalid_request"),
    ("POST", "/v1/collections/news/search", {"query": "rain", "k": 21}, 400, "k_too_large"),
    ("POST", "/v1/collections/news/search", {"query": "zzqqxx", "mode": "dense"}, 400, "bad_query"),
    ("POST", "/v1/collections/news/search", {"query": "rain", "where": ["n>>1"]}, 400, "bad_option"),
    ("POST", "/v1/collections/news/search", {"vector": [0.1] * 7}, 400, "bad_query"),
    ("POST", "/v1/collections/news/search", {"vector": [0.0] * 50}, 400, "bad_query"),
    ("POST", "/v1/collections/news/search", {"query": "rain", "min_seq": 10**6}, 409, "min_seq_ahead"),
    ("GET", "/v1/collections/news/count?min_seq=1000000", None, 409, "min_seq_ahead"),
    ("POST", "/v1/collections/news/similar", {"id": "nope"}, 404, "document_not_found"),
    ("POST", "/v1/collections/nope/search", {"query": "rain"}, 404, "collection_not_found"),
    ("GET", "/v1/collections/news/documents/nope", None, 404, "document_not_found"),
    ("GET", "/v1/collections/news/documents?cursor=%%%", None, 400, "bad_cursor"),
    ("GET", "/v1/collections/news/documents?limit=0", None, 422, "invalid_request"),
    ("POST", "/v1/collections", {"name": "../etc"}, 422, "invalid_request"),
    ("POST", "/v1/collections", {"name": "news"}, 409, "collection_exists"),
    ("POST", "/v1/collections", {"name": "news", "embedder": "precomputed", "dimension": 4}, 409, "model_mismatch"),
    ("POST", "/v1/collections", {"name": "news", "index": "flat"}, 400, "bad_option"),
    ("POST", "/v1/collections", {"name": "m", "model": "/no/such/model.bin"}, 400, "bad_model"),
    ("POST", "/v1/collections", {"name": "m", "index": "hnsw:M=banana"}, 400, "bad_option"),
    ("POST", "/v1/collections/news/documents", {"documents": [{"id": "x", "text": "t", "vector": [1.0]}]},
     400, "bad_input"),
    ("PUT", "/v1/collections/news", None, 405, "method_not_allowed"),
    ("GET", "/v1/collections/news/documents?limt=5", None, 400, "unknown_parameter"),
    ("GET", "/v2/nothing", None, 404, "not_found"),
])
def test_bad_input_is_a_4xx_json_error_never_a_500(http, method, path, body, status, code):
    response = http.request(method, path, json=body)
    assert error_of(response, status)["error"] == code


def test_malformed_json_and_wrong_content_type(http):
    bad = http.post("/v1/collections/news/search", content=b'{"query": ', headers={"content-type": "application/json"})
    assert "not valid JSON" in error_of(bad, 422)["message"]
    form = http.post("/v1/collections/news/search", content=b'{"query": "rain"}',
                     headers={"content-type": "application/x-www-form-urlencoded"})
    assert "Content-Type: application/json" in error_of(form, 422)["message"]


def test_body_limit_is_413_with_the_limit_and_nothing_is_written(http):
    big = {"documents": [{"id": f"big{i}", "text": "word " * 200} for i in range(60)]}  # > 50 KB
    body = error_of(http.post("/v1/collections/news/documents", json=big), 413)
    assert body["error"] == "payload_too_large" and "52428 bytes" in body["message"]
    # Without a Content-Length (chunked), the limit holds while the body streams.
    payload = json.dumps(big).encode()
    streamed = http.post("/v1/collections/news/documents", content=iter([payload[i:i + 4096]
                                                                          for i in range(0, len(payload), 4096)]),
                         headers={"content-type": "application/json"})
    assert error_of(streamed, 413)["error"] == "payload_too_large"
    many = {"documents": [{"id": f"m{i}", "text": "rain"} for i in range(51)]}
    assert error_of(http.post("/v1/collections/news/documents", json=many), 413)["error"] == "batch_too_large"
    assert http.get("/v1/collections/news/count").json()["count"] == len(DOCS)


def test_client_splits_batches_to_fit_the_limits(server, http):
    client = vecdex.Client(server.url)
    coll = client.collection("split", create=True)
    docs = [{"id": f"s{i}", "text": f"river flood number {i} " + "water " * 30} for i in range(180)]
    report = coll.add(docs)  # 180 docs, ~40 KB of JSON per 50: several requests under both limits
    assert report.added == 180 and coll.count() == 180
    client._limits = {**client.limits(), "max_body_bytes": 10**7}  # a stale idea of the limit: 413, then halves
    assert coll.add([{**d, "text": d["text"] + " again"} for d in docs[:100]]).updated == 100
    client.drop("split")
    client.close()


def test_paging_with_a_cursor_and_a_filter(server, http):
    seen, cursor = [], None
    while True:
        page = http.get("/v1/collections/news/documents", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [d["id"] for d in page["documents"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [d["id"] for d in DOCS]
    filtered = http.get("/v1/collections/news/documents", params=[("where", "n>=1"), ("where", "n<3")]).json()
    assert [d["id"] for d in filtered["documents"]] == ["d1", "d2"]


def test_read_your_writes_and_drop(server, http):
    assert http.post("/v1/collections", json={"name": "tmp"}).status_code == 201
    write = http.post("/v1/collections/tmp/documents", json={"documents": [{"id": "a", "text": "volcano erupted"}]}).json()
    assert write["seq"] == 1
    hits = http.post("/v1/collections/tmp/search", json={"query": "volcanic eruption", "min_seq": write["seq"]}).json()
    assert [h["id"] for h in hits["hits"]] == ["a"] and hits["seq"] >= write["seq"]
    deleted = http.request("DELETE", "/v1/collections/tmp/documents", json={"ids": ["a", "b"]}).json()
    assert deleted == {"deleted": 1, "not_found": ["b"], "seq": 2}
    assert http.delete("/v1/collections/tmp").json() == {"dropped": "tmp"}
    assert error_of(http.get("/v1/collections/tmp"), 404)["error"] == "collection_not_found"
    # Made again: a new collection (new id), not the old one's caches.
    assert http.post("/v1/collections", json={"name": "tmp"}).status_code == 201
    assert http.post("/v1/collections/tmp/search", json={"query": "volcano", "mode": "lexical"}).json()["hits"] == []
    http.delete("/v1/collections/tmp")


def test_metrics_count_requests_and_show_collections(http):
    http.post("/v1/collections/news/search", json={"query": "rain"})
    text = http.get("/metrics").text
    assert 'vecdex_http_requests_total{method="POST",route="/v1/collections/{name}/search",status="200"}' in text
    assert 'vecdex_http_request_duration_seconds_bucket{le="0.5",method="POST",route="/v1/collections/{name}/search"}' in text
    assert f'vecdex_collection_documents{{collection="news"}} {float(len(DOCS))}' in text
    assert 'vecdex_index_lag_writes{collection="news"' in text


def test_openapi_and_docs_and_limits(http):
    spec = http.get("/openapi.json").json()
    for path in ("/v1/collections", "/v1/collections/{name}", "/v1/collections/{name}/documents",
                 "/v1/collections/{name}/documents/{doc_id}", "/v1/collections/{name}/count",
                 "/v1/collections/{name}/search", "/v1/collections/{name}/similar", "/healthz", "/readyz", "/metrics"):
        assert path in spec["paths"], path
    assert http.get("/docs").status_code == 200
    assert http.get("/v1/limits").json()["max_batch"] == 50


def test_tokens_scopes_collections_and_revocation(store_target, tmp_path):
    db = store_target
    with Server(db, log_dir=tmp_path, env={"VECDEX_CACHE_DIR": str(tmp_path / "cache")}) as server:
        open_client = vecdex.Client(server.url)
        open_client.collection("docs", create=True).add(DOCS[:2])
        open_client.collection("other", create=True).add(DOCS[2:])
        made = {}
        for scope, extra in (("read", ["--collection", "docs"]), ("write", []), ("admin", [])):
            out = run_vecdex("token", "create", "--scope", scope, *extra, "--json", db=db)
            assert out.returncode == 0, out.stderr
            made[scope] = json.loads(out.stdout)
        assert made["admin"]["token"].encode() not in _stored_bytes(db)  # only digests are stored
        # From now on the store has tokens: every API call needs one (health checks do not).
        with httpx.Client(base_url=server.url) as http:
            assert error_of(http.get("/v1/collections"), 401)["error"] == "unauthorized"
            assert error_of(http.get("/v1/collections", headers={"Authorization": "Bearer nope"}), 401)
            assert http.get("/healthz").status_code == 200
            assert error_of(http.get("/metrics"), 401)
        with pytest.raises(vecdex.VecdexError) as denied:
            open_client.collections()
        assert denied.value.status == 401
        reader = vecdex.Client(server.url, token=made["read"]["token"])
        assert [c["name"] for c in reader.collections()] == ["docs"]  # only what it may see
        assert reader.collection("docs").search("rain", k=1, mode="lexical")[0].id == "d0"
        with pytest.raises(vecdex.VecdexError) as forbidden:
            reader.collection("other")
        assert forbidden.value.status == 403
        with pytest.raises(vecdex.VecdexError) as forbidden:
            reader.collection("docs").add([("x", "a new text")])
        assert forbidden.value.status == 403 and "may not write" in str(forbidden.value)
        writer = vecdex.Client(server.url, token=made["write"]["token"])
        assert writer.collection("other").add([("x", "a new text")]).added == 1
        with pytest.raises(vecdex.VecdexError) as forbidden:
            writer.collection("new", create=True)
        assert forbidden.value.status == 403
        admin = vecdex.Client(server.url, token=made["admin"]["token"])
        admin.collection("new", create=True)
        listed = run_vecdex("token", "list", "--json", db=db)
        assert sorted(json.loads(line)["scope"] for line in listed.stdout.splitlines()) == ["admin", "read", "write"]
        assert all(made[scope]["token"] not in listed.stdout.decode() for scope in made)
        assert run_vecdex("token", "revoke", made["read"]["id"], db=db).returncode == 0
        with pytest.raises(vecdex.VecdexError) as revoked:
            reader.collections()
        assert revoked.value.status == 401
        missing = run_vecdex("token", "revoke", "nosuchid", db=db)
        assert missing.returncode == 1 and missing.stderr.decode().startswith("vecdex: error: no token")
        for client in (open_client, reader, writer, admin):
            client.close()


def _stored_bytes(db: str) -> bytes:
    """Everything the store holds about tokens, as bytes (a SQLite file and its WAL)."""
    if "://" not in db:
        path = Path(db)
        wal = path.with_name(path.name + "-wal")
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    import psycopg
    from sqlalchemy.engine import make_url

    with psycopg.connect(make_url(db).set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        return repr(conn.execute("SELECT * FROM api_tokens").fetchall()).encode()


def test_public_address_needs_a_token(tmp_path):
    db = tmp_path / "public.db"
    refused = run_vecdex("serve", "--host", "0.0.0.0", "--port", "0", db=db, timeout=60)
    assert refused.returncode == 1
    assert refused.stderr.decode().startswith("vecdex: error: refusing to listen on 0.0.0.0 without authentication")
