"""CORS for the PORTAL_CORS_ORIGINS allow-list, security headers on every answer, the GraphiQL page's
CSP and caching, and readable Chinese in JSON answers: over HTTP against a real `portal serve`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.live_server import live_server

APP_ORIGIN = "https://app.example.cn"
OTHER_ORIGIN = "https://evil.example.com"


@pytest.fixture(scope="module")
def base(servers: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("api") / "api.log"
    env = {"PORTAL_CORS_ORIGINS": f"{APP_ORIGIN}, https://console.example.cn/"}
    with live_server(servers["database_url"], servers["redis_url"], env=env, log_path=log) as url:
        yield url


def _preflight(base: str, origin: str) -> httpx.Response:
    return httpx.options(
        f"{base}/graphql",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type, x-request-id",
        },
    )


def test_preflight_from_an_allowed_origin_gets_200_with_the_allow_headers(base: str) -> None:
    answer = _preflight(base, APP_ORIGIN)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == APP_ORIGIN
    assert {"GET", "POST", "OPTIONS"} <= {m.strip() for m in answer.headers["access-control-allow-methods"].split(",")}
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-request-id"} <= allowed
    assert "apollo-require-preflight" in allowed  # image uploads need it (api/app.py PREFLIGHT_HEADERS)
    assert answer.headers["access-control-max-age"] == "600"
    # The second origin was written with a trailing slash: still matched (browsers send none).
    assert _preflight(base, "https://console.example.cn").headers["access-control-allow-origin"] == (
        "https://console.example.cn"
    )


def test_post_from_an_allowed_origin_exposes_the_request_id(base: str) -> None:
    answer = httpx.post(f"{base}/graphql", json={"query": "{ __typename }"}, headers={"origin": APP_ORIGIN})
    assert answer.status_code == 200 and answer.json() == {"data": {"__typename": "Query"}}
    assert answer.headers["access-control-allow-origin"] == APP_ORIGIN
    assert answer.headers["access-control-expose-headers"].lower() == "x-request-id"
    assert answer.headers["x-request-id"]


def test_a_disallowed_origin_gets_no_allow_header(base: str) -> None:
    refused = _preflight(base, OTHER_ORIGIN)
    assert "access-control-allow-origin" not in refused.headers
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "CORS_NOT_ALLOWED"
    # A simple request is still answered (CORS is the browser's check), just without the allow header.
    answer = httpx.post(f"{base}/graphql", json={"query": "{ __typename }"}, headers={"origin": OTHER_ORIGIN})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers


async def test_without_an_allow_list_there_is_no_cors(client) -> None:
    # The in-process app runs on the default settings: PORTAL_CORS_ORIGINS empty.
    answer = await client.options("/graphql", headers={"origin": APP_ORIGIN, "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in answer.headers
    assert answer.status_code == 405 and answer.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("POST", "/graphql", 200),
        ("GET", "/no-such-page", 404),
        ("POST", "/hooks/his/visits", 401),
        ("GET", "/static/graphiql.js", 200),
    ],
)
def test_security_headers_on_every_answer(base: str, method: str, path: str, status: int) -> None:
    body = {"json": {"query": "{ __typename }"}} if path == "/graphql" else {}
    answer = httpx.request(method, f"{base}{path}", **body)  # type: ignore[arg-type]
    assert answer.status_code == status
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")


def test_graphiql_page_allows_only_its_own_origin_and_vendor_files_cache_for_a_year(base: str) -> None:
    page = httpx.get(f"{base}/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "http" not in csp  # no CDN host allowed
    assert page.headers["x-frame-options"] == "DENY"
    assert "unpkg.com" not in page.text and "cdn" not in page.text.lower()
    vendor = [part.split('"')[0] for part in page.text.split('src="')[1:] if part.startswith("/static/vendor/")]
    assert len(vendor) == 4
    for url in vendor:
        asset = httpx.get(f"{base}{url}")
        assert asset.status_code == 200 and len(asset.content) > 1000
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["content-type"].startswith("text/javascript")
    own = httpx.get(f"{base}/static/graphiql.js")
    assert own.headers["cache-control"] == "no-cache" and own.headers.get("etag")


async def test_graphiql_without_built_files_says_how_to_build_them(client, monkeypatch, tmp_path) -> None:
    from api import browser

    monkeypatch.setattr(browser, "VENDOR_DIR", tmp_path / "vendor")  # as on a checkout before `make venv`
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 503
    assert "make venv" in page.text and "python -m cli.assets" in page.text
    assert "尚未构建" in page.text and "not built" in page.text


async def test_json_answers_carry_chinese_as_utf8_not_escapes(client) -> None:
    missing = await client.get("/no-such-page")
    assert "地址不存在".encode() in missing.content and b"\\u" not in missing.content
    refused = await client.post("/graphql", content=b'"query"', headers={"content-type": "application/json"})
    assert refused.status_code == 400 and "请求体必须是".encode() in refused.content
    # A GraphQL error message from a resolver, through strawberry's encoder (orjson).
    mutation = 'mutation { authRequestCode(input: {phone: "12"}) { errors { code message } } }'
    answer = await client.post("/graphql", json={"query": mutation})
    assert answer.status_code == 200 and b"\\u" not in answer.content
    assert any("\u4e00" <= ch <= "\u9fff" for ch in answer.content.decode("utf-8"))


def test_public_base_url_follows_host_and_port_unless_set(monkeypatch) -> None:
    from core.settings import Settings

    for name in ("PORTAL_PUBLIC_BASE_URL", "PORTAL_HOST", "PORTAL_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert Settings().public_base_url == "http://127.0.0.1:8000"
    monkeypatch.setenv("PORTAL_PORT", "9123")
    assert Settings().public_base_url == "http://127.0.0.1:9123"
    monkeypatch.setenv("PORTAL_HOST", "0.0.0.0")  # listening everywhere: links still need a reachable host
    assert Settings().public_base_url == "http://127.0.0.1:9123"
    monkeypatch.setenv("PORTAL_HOST", "192.168.1.20")
    assert Settings().public_base_url == "http://192.168.1.20:9123"
    monkeypatch.setenv("PORTAL_PUBLIC_BASE_URL", "https://member.kangning.example.cn")
    assert Settings().public_base_url == "https://member.kangning.example.cn"


def test_cors_origins_setting_is_a_comma_separated_allow_list(monkeypatch) -> None:
    from api.browser import cors_origins
    from core.settings import Settings

    monkeypatch.delenv("PORTAL_CORS_ORIGINS", raising=False)
    assert cors_origins(Settings().cors_origins) == []
    monkeypatch.setenv("PORTAL_CORS_ORIGINS", " https://a.example.cn ,https://b.example.cn/,, ")
    assert cors_origins(Settings().cors_origins) == ["https://a.example.cn", "https://b.example.cn"]
