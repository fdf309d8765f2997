"""`make llm` (tutor-ops llm start) leaves the local model alone when another endpoint answers."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ops import cli


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("variable", ["OPENAI_API_KEY", "OPENAI_API_BASE"])
def test_llm_start_does_nothing_when_an_openai_endpoint_is_configured(
    variable: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv(variable, "sk-test" if variable.endswith("KEY") else "http://127.0.0.1:9/v1")
    monkeypatch.setenv("LOCAL_LLM_PORT", str(_free_port()))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "models"))
    # were it started, this model would have to be fetched or found: it is neither
    monkeypatch.setenv("LOCAL_LLM_MODEL_FILE", "not-here.gguf")
    assert cli.main(["llm", "start"]) == 0
    assert "local model is not started" in capsys.readouterr().out
    assert not list((tmp_path / "var").glob("llm-*.pid"))
