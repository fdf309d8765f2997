"""The client code of the protocol document, loaded from ../shared/seed at test time, unmodified.

Our users integrate with the document's clients; running them verbatim against the server is the
contract test. The code is read from the document, never copied into this repository.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[3] / "shared" / "seed" / "ws-stream-api.md"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def python_client_namespace() -> dict[str, Any]:
    """Execute the document's Python client module (its ``main`` is not run)."""
    source = next(b for b in code_blocks("python") if "class ChatStreamClient" in b)
    module = types.ModuleType("protocol_document_client")  # dataclasses look their module up
    sys.modules[module.__name__] = module
    exec(compile(source, str(DOC), "exec"), module.__dict__)
    return module.__dict__


def javascript_client_class() -> str:
    """The document's JavaScript ``ChatStreamClient`` class, without its browser usage example."""
    block = next(b for b in code_blocks("javascript") if "class ChatStreamClient" in b)
    return block.split("// Usage Example")[0]
