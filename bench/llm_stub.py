"""The scripted OpenAI-compatible server (tests.support) in its own process, for benchmarks.

In its own process so that its event loop and the GIL are not shared with the server under test
(a real LLM server is another process too). The reply follows the requested model name:
``bench-300t-10ms`` streams 300 tokens with 10 ms before each; other names get a short echo.

    python -m bench.llm_stub      # prints the base URL, serves until stdin closes
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.common import ROOT
from tests.support.scripted_openai import Reply, ScriptedOpenAI, echo_reply

MODEL = re.compile(r"^bench-(\d+)t-(\d+(?:\.\d+)?)ms$")
WORDS = (
    "Infrastruktur TI adalah gabungan perangkat keras, perangkat lunak, jaringan, pusat data "
    "dan orang yang menjalankan layanan teknologi informasi sebuah organisasi. Pengelolaannya "
    "meliputi perencanaan kapasitas, pemantauan, pemeliharaan, pencadangan data dan keamanan, "
    "agar layanan tetap tersedia sesuai perjanjian tingkat layanan yang disepakati."
).split()


def model_name(tokens: int, delay_ms: float) -> str:
    return f"bench-{tokens}t-{delay_ms:g}ms"


def answer_tokens(count: int) -> list[str]:
    """``count`` word tokens as a model streams them: ``["Infrastruktur", " TI", ...]``."""
    return [("" if i == 0 else " ") + WORDS[i % len(WORDS)] for i in range(count)]


def reply_for(body: dict[str, Any]) -> Reply:
    match = MODEL.match(str(body.get("model", "")))
    if match is None:
        return echo_reply(body)
    return Reply(tokens=answer_tokens(int(match[1])), delay_s=float(match[2]) / 1000)


@contextmanager
def llm_stub() -> Iterator[str]:
    """Start the stub process; yield its base URL (``http://127.0.0.1:<port>/v1``)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.llm_stub"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("the scripted LLM process did not start")
        yield url
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=10)


def main() -> None:
    with ScriptedOpenAI() as server:
        server.default = reply_for
        print(server.base_url, flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin


if __name__ == "__main__":
    main()
