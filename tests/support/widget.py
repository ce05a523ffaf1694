"""The official Parlant chat widget (npm parlant-chat-react) on an insurer's page, for browser tests.

The widget is bundled at test time with esbuild from tests/widget (installed by
scripts/ensure_widget.sh) and served, with a host page, by a tiny static server on its own port:
a different origin from the agent's, as on an insurer's site.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.agent_process import REPO_ROOT, free_port

WIDGET_DIR = REPO_ROOT / "tests" / "widget"
ESBUILD = WIDGET_DIR / "node_modules" / ".bin" / "esbuild"
ENSURE_WIDGET = REPO_ROOT / "scripts" / "ensure_widget.sh"


def host_page(config: dict[str, Any]) -> str:
    """The insurer's page: the widget's settings in `window.WIDGET_CONFIG`, then the bundle."""
    # "</" cannot close the script element from inside a JSON string.
    settings = json.dumps(config).replace("</", "<\\/")
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8"><title>Acme Insurance: help</title></head>\n'
        "<body>\n"
        '<div id="chat"></div>\n'
        f"<script>window.WIDGET_CONFIG = {settings};</script>\n"
        '<script src="/widget.js"></script>\n'
        "</body></html>\n"
    )


@pytest.fixture(scope="session")
def widget_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """widget.js built from tests/widget/widget.jsx into a temp dir (never into the tree)."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("npm/node are missing: the official widget cannot be installed or bundled")
    subprocess.run(["bash", str(ENSURE_WIDGET)], check=True, timeout=600)
    out = tmp_path_factory.mktemp("widget-bundle")
    subprocess.run(
        [
            str(ESBUILD),
            str(WIDGET_DIR / "widget.jsx"),
            "--bundle",
            f"--outfile={out / 'widget.js'}",
            "--jsx=automatic",
            '--define:process.env.NODE_ENV="production"',
            "--log-level=warning",
        ],
        cwd=WIDGET_DIR,
        check=True,
        timeout=120,
    )
    return out / "widget.js"


@dataclass
class HostSite:
    """One insurer's site at http://localhost:<port>: `/` is the host page, `/widget.js` the bundle."""

    bundle: Path
    config: dict[str, Any]
    port: int = 0

    @property
    def origin(self) -> str:
        # `localhost`, not the agent's 127.0.0.1: a different origin even on the same machine.
        return f"http://localhost:{self.port}"

    @contextmanager
    def serve(self) -> Iterator[HostSite]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/":
                    body, kind = host_page(site.config).encode(), "text/html; charset=utf-8"
                elif path == "/widget.js":
                    body, kind = site.bundle.read_bytes(), "text/javascript; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test's output stays about the widget

        self.port = self.port or free_port()
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
