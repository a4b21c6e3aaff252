"""Security headers and request ids."""

import pytest


@pytest.mark.parametrize("path", ["/health", "/openapi.json", "/nowhere", "/docs"])
def test_security_headers_everywhere(client, path):
    headers = client.get(path).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_api_responses_allow_nothing(client):
    assert client.get("/health").headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_docs_page_works_under_its_csp(client):
    response = client.get("/docs")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    page = response.get_data(as_text=True)
    # no inline executable script: only external files and an inert JSON block
    assert page.count("<script") == page.count("<script src=") + 1
    assert '<script type="application/json" id="swagger-ui-config">' in page
    assert "http://" not in page and "https://" not in page
    for asset in ("/swagger-ui-assets/swagger-ui-bundle.js", "/static/swagger-init.js"):
        assert asset in page
        with client.get(asset) as served:
            assert served.status_code == 200


def test_request_id_is_echoed_or_made(client):
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == (
        "abc-123"
    )
    made = client.get("/health", headers={"X-Request-ID": "bad id\twith junk"}).headers
    assert len(made["X-Request-ID"]) == 32
