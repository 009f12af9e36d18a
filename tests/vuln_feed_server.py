"""A local HTTP server that publishes the fixture documents the way NVD, CISA and OSV do (the machine has no
internet): NVD pages by startIndex, the KEV catalog with an ETag, OSV ecosystems' all.zip exports."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

from tests.unit.test_vuln_feeds import fixture, osv_zip

KEV_ETAG = '"kev-2024.07.15"'


def nvd_pages(per_page: int = 2) -> list[dict]:
    document = json.loads(fixture("nvd_page.json"))
    items = document["vulnerabilities"]
    return [document | {"startIndex": start, "resultsPerPage": per_page, "totalResults": len(items),
                        "vulnerabilities": items[start:start + per_page]}
            for start in range(0, len(items), per_page)]


class FeedServer:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict, dict]] = []
        self.osv = {"Debian:12": osv_zip("osv_debian.json"), "Ubuntu:22.04:LTS": osv_zip("osv_ubuntu.json")}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (the http.server interface)
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                server.requests.append((unquote(url.path), query, dict(self.headers)))
                status, body, headers = server.answer(unquote(url.path), query, self.headers)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def settings(self) -> dict:
        return {"vuln_nvd_url": f"{self.url}/nvd/rest/json/cves/2.0", "vuln_kev_url": f"{self.url}/kev.json",
                "vuln_osv_url": f"{self.url}/osv", "vuln_osv_ecosystems": "Debian:12,Ubuntu:22.04:LTS",
                "vuln_nvd_requests_per_window": 100}

    def answer(self, path: str, query: dict, headers) -> tuple[int, bytes, dict]:
        if path.startswith("/nvd/"):
            pages = nvd_pages()
            index = int(query.get("startIndex", 0)) // 2
            return 200, json.dumps(pages[index]).encode(), {"Content-Type": "application/json"}
        if path == "/kev.json":
            if headers.get("If-None-Match") == KEV_ETAG:
                return 304, b"", {"ETag": KEV_ETAG}
            return 200, fixture("kev.json"), {"Content-Type": "application/json", "ETag": KEV_ETAG}
        if path.startswith("/osv/") and path.endswith("/all.zip"):
            ecosystem = path[len("/osv/"):-len("/all.zip")]
            if ecosystem in self.osv:
                return 200, self.osv[ecosystem], {"Content-Type": "application/zip"}
        return 404, b"not found", {}

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
