"""The protocol document's own clients, unmodified, against the real server."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Tutor
from tests.support.client import stream_url
from tests.support.protocol_doc import javascript_client_class, python_client_namespace
from tests.support.scripted_openai import Reply

pytestmark = pytest.mark.integration
ANSWER = "Manajemen infrastruktur TI adalah kegiatan merencanakan dan memelihara sumber daya TI (hal. 1)."


async def test_protocol_document_python_client(
    tutor: Tutor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    tutor.llm.script(Reply.from_text(ANSWER, prompt_tokens=200, completion_tokens=20))
    client_class = python_client_namespace()["ChatStreamClient"]
    client = client_class("doc-student", "course_tik_01")
    # the document's client targets localhost:8000; point the instance at the test server
    client.ws_url = stream_url(tutor.url, user_id="doc-student", course_id="course_tik_01")
    seen: dict[str, Any] = {"chunks": []}
    done = asyncio.Event()

    async def on_connection(data: dict[str, Any]) -> None:
        seen["config"] = data["config"]

    async def on_chunk(data: dict[str, Any]) -> None:
        seen["chunks"].append(data["chunk"])

    async def on_complete(data: dict[str, Any]) -> None:
        seen["complete"] = data
        done.set()

    async def on_error(data: dict[str, Any]) -> None:
        seen["error"] = data
        done.set()

    client.on_connection, client.on_chunk = on_connection, on_chunk
    client.on_complete, client.on_error = on_complete, on_error
    await client.connect()
    await client.send_query(
        query="Apa itu manajemen infrastruktur TI?",
        use_personalization=True,
        chatroom_id="room_doc_001",
    )
    async with asyncio.timeout(60):
        await done.wait()
    await client.disconnect()
    assert "error" not in seen
    assert (
        seen["config"]["model_comprehensive"] == "gpt-4o-mini"
        and seen["config"]["streaming"] is True
    )
    data = seen["complete"]
    assert "".join(seen["chunks"]) == data["response"]
    # exactly the fields the document's example handlers read
    for source in data["sources"]:
        meta = source["metadata"]
        assert isinstance(meta["filename"], str) and isinstance(meta["page"], str)
        assert isinstance(meta["score"], float) and isinstance(source["content"], str)
    assert isinstance(data["token_usage"]["total_tokens"], int)
    assert isinstance(data["metadata"]["cost_usd"], float) and isinstance(data["latency_ms"], float)


JS_DRIVER = """
const WS = require('ws');
const target = process.argv[2];
// a browser provides WebSocket globally; this shim only redirects the document's fixed host:port
global.WebSocket = class extends WS { constructor(url, ...rest) { super(url.replace('ws://localhost:8000', target), ...rest); } };
%CLIENT%
const client = new ChatStreamClient('js-student', 'course_tik_01');
const seen = { chunks: [] };
client.onConnection = (m) => { seen.config = m.config; client.sendQuery('Apa itu manajemen infrastruktur TI?', false, null); };
client.onChunk = (m) => { seen.chunks.push(m.chunk); };
client.onError = (m) => { seen.error = m; };
client.onCompleteResponse = (m) => {
  seen.complete = m;
  client.maxReconnectAttempts = 0;
  client.disconnect();
  console.log('RESULT ' + JSON.stringify(seen));
  setTimeout(() => process.exit(0), 100);
};
client.connect();
setTimeout(() => { console.error('timeout'); process.exit(3); }, 60000);
"""


def _node_modules() -> Path:
    return ROOT / "tests" / "js" / "node_modules"


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
async def test_protocol_document_javascript_client(tutor: Tutor, tmp_path: Path) -> None:
    assert (_node_modules() / "ws").is_dir(), "run `make install` (it installs tests/js with npm)"
    tutor.llm.script(Reply.from_text(ANSWER))
    script = tmp_path / "client.js"
    script.write_text(JS_DRIVER.replace("%CLIENT%", javascript_client_class()))
    target = tutor.url.replace("http://", "ws://")
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(script),
        target,
        env={"NODE_PATH": str(_node_modules()), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    result = [line for line in stdout.decode().splitlines() if line.startswith("RESULT ")]
    seen = json.loads(result[-1].removeprefix("RESULT "))
    assert "error" not in seen
    assert seen["config"]["model_comprehensive"] == "gpt-4o-mini"
    assert "".join(seen["chunks"]) == seen["complete"]["response"] == ANSWER
    assert seen["complete"]["sources"] and seen["complete"]["token_usage"]["total_tokens"] > 0
