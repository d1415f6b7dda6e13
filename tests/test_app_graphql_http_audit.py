"""graphql-http's server audit (the GraphQL over HTTP spec's checks) against the real server.

The audit is an npm package, pinned in tests/audit/package-lock.json and
installed there with ``npm ci`` on first use. Skipped only without Node.js.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live_server import Server

AUDIT = Path(__file__).resolve().parent / "audit"
# graphql-http 1.23.1 runs 61 audits; a different count means a different audit.
AUDITS = 61

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
]


def install() -> None:
    """``npm ci`` unless node_modules already holds what the lock file pins."""
    installed = AUDIT / "node_modules" / ".package-lock.json"
    lock = AUDIT / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed beside node to install the audit"
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
        cwd=AUDIT,
        check=True,
        capture_output=True,
        timeout=300,
    )


def test_the_graphql_over_http_audit_passes_every_check(tmp_path: Path) -> None:
    install()
    server = Server(tmp_path / "data")
    try:
        run = subprocess.run(
            ["node", "audit.mjs", f"{server.url}/graphql"],
            cwd=AUDIT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.kill()
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    assert [r for r in results if r["status"] != "ok"] == []
    assert len(results) == AUDITS
