"""The TypeScript client's node:test suite, run by Node against the real server (scripted LLM)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import ROOT, Tutor
from tests.support.scripted_openai import Reply

pytestmark = pytest.mark.integration
TS = ROOT / "clients" / "ts"


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_typescript_client_against_the_server(tutor_factory: object) -> None:
    assert (TS / "node_modules" / "ws").is_dir(), "run `make install` (npm ci in clients/ts)"
    tutor: Tutor = tutor_factory(stream_flush_interval_ms=0)  # type: ignore[operator]
    tutor.llm.script(
        Reply.from_text("Manajemen infrastruktur TI mengelola sumber daya TI (hlm. 1)."),
        Reply.from_text("Perencanaan dimulai dari analisis kebutuhan. " * 20, delay_s=0.05),
        Reply.from_text("Pusat data menampung server dan penyimpanan."),
        Reply.from_text(
            "Komponen pusat data: daya, pendingin, rak dan jaringan. " * 8, delay_s=0.04
        ),
    )
    done = subprocess.run(
        ["node", "--test", "--test-reporter=spec", "test/"],
        cwd=TS,
        env={**os.environ, "TUTOR_URL": tutor.url},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "fail 0" in done.stdout and "skipped 0" in done.stdout, done.stdout[-2000:]
