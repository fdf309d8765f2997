"""Every generated file in the repository is what its generator writes today, and the vendored
browser libraries are exactly the pinned ones, with their licences."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from app.api import client_schema
from app.protocol import asyncapi, pymodule

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "app" / "web" / "static"


def test_asyncapi_document_is_current() -> None:
    committed = (ROOT / "docs" / "asyncapi.yaml").read_text(encoding="utf-8")
    assert committed == asyncapi.render(), (
        "run: python -m app.protocol.asyncapi > docs/asyncapi.yaml"
    )


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [
            r for v in node.values() for r in _refs(v)
        ]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_asyncapi_document_is_well_formed() -> None:
    document = yaml.safe_load(asyncapi.render())
    assert document["asyncapi"] == "3.0.0"
    assert {"info", "servers", "channels", "operations", "components"} <= set(document)
    for ref in _refs(document):
        assert ref.startswith("#/") and _resolve(document, ref) is not None, ref
    names = {m["name"] for m in document["components"]["messages"].values()}
    assert {"chat_request", "ping", "disconnect", "connection", "chat_started", "chat_chunk",
            "chat_response", "pong", "error"} == names  # fmt: skip
    actions = {op["action"] for op in document["operations"].values()}
    assert actions == {"send", "receive"}


def test_typescript_client_schema_is_current() -> None:
    committed = (ROOT / "clients" / "ts" / "schema" / "protocol.schema.json").read_text("utf-8")
    assert committed == client_schema.render(), (
        "run: python -m app.api.client_schema > clients/ts/schema/protocol.schema.json, "
        "then npm run build in clients/ts"
    )


def test_python_client_protocol_module_is_current() -> None:
    committed = (ROOT / "clients" / "python" / "tutor_client" / "protocol.py").read_text("utf-8")
    assert committed == pymodule.render(), (
        "run: python -m app.protocol.pymodule > clients/python/tutor_client/protocol.py"
    )


def test_served_client_is_the_compiled_one() -> None:
    dist = ROOT / "clients" / "ts" / "dist"
    compiled = sorted(p.name for p in dist.glob("*.js"))
    assert compiled == ["client.js", "protocol.js"]
    for name in compiled:
        assert (STATIC / "client" / name).read_bytes() == (dist / name).read_bytes(), name


def test_vendored_libraries_are_the_pinned_versions_with_licences() -> None:
    pinned = json.loads((ROOT / "web" / "package.json").read_text())["dependencies"]
    locked = json.loads((ROOT / "web" / "package-lock.json").read_text())["packages"]
    manifest = json.loads((STATIC / "vendor" / "VENDOR.json").read_text())
    assert set(manifest) == set(pinned)
    for package, entry in manifest.items():
        assert entry["version"] == pinned[package] == locked[f"node_modules/{package}"]["version"]
        folder = STATIC / "vendor" / entry["dir"]
        assert entry["dir"].endswith(entry["version"])
        for name in entry["files"] + entry["licences"]:
            assert (folder / name).stat().st_size > 0, f"{package}: {name}"
    pages = [(STATIC / n).read_text() for n in ("index.html", "dashboard.html")]
    pages += [p.read_text() for p in (STATIC / "js").glob("*.js")]
    used = {e["dir"] for e in manifest.values() if any(f"/vendor/{e['dir']}/" in p for p in pages)}
    assert used == {e["dir"] for e in manifest.values()}, "a vendored library is not used"
    # no CDN: every script, stylesheet and module import is served from this origin
    remote = re.compile(
        r"""(?:src|href)=["']https?://|from\s+["']https?://|import\(["']https?://"""
    )
    assert not [p[:80] for p in pages if remote.search(p)]
