"""Write the protocol models as one standalone module for the Python client (clients/python).

The client must not depend on the server package (LlamaIndex, Redis, ...), yet its message types
must be the server's. So the source of :mod:`app.protocol.errors`, :mod:`app.protocol.messages` and
:mod:`app.protocol.status` is copied, verbatim but for their imports, into
``tutor_client/protocol.py``; a unit test fails when the committed copy differs from this output.

    python -m app.protocol.pymodule > clients/python/tutor_client/protocol.py
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from app.protocol import errors, messages, status

SOURCES = (errors, messages, status)
HEADER = '''"""The `/ws/stream` protocol models, generated from the server's app/protocol package.

Do not edit. Regenerate from the server's repository root with
``python -m app.protocol.pymodule > clients/python/tutor_client/protocol.py``
(a test there fails when this file is stale).
"""

'''


def _split(source: str) -> tuple[list[ast.Import | ast.ImportFrom], str]:
    """(import statements, the rest) of a module, without its docstring and future import."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    imports: list[ast.Import | ast.ImportFrom] = []
    body_start = 0
    for node in tree.body:
        is_docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if not (is_docstring or isinstance(node, ast.Import | ast.ImportFrom)):
            break
        body_start = node.end_lineno or 0
        if isinstance(node, ast.Import | ast.ImportFrom):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if module != "__future__" and not (module or "").startswith("app."):
                imports.append(node)
    return imports, "".join(lines[body_start:]).strip("\n")


def _imports(nodes: list[ast.Import | ast.ImportFrom]) -> str:
    """One merged, sorted import block: the standard library first, then the rest."""
    plain: set[str] = set()
    names: dict[str, set[str]] = {}
    for node in nodes:
        if isinstance(node, ast.Import):
            plain.update(alias.name for alias in node.names)
        else:
            names.setdefault(node.module or "", set()).update(a.name for a in node.names)
    groups: list[list[str]] = [[], []]
    for module in sorted(plain):
        groups[module.split(".")[0] not in sys.stdlib_module_names].append(f"import {module}")
    for module in sorted(names):
        line = f"from {module} import {', '.join(sorted(names[module]))}"
        groups[module.split(".")[0] not in sys.stdlib_module_names].append(line)
    return "\n\n".join("\n".join(group) for group in groups if group)


def render() -> str:
    nodes: list[ast.Import | ast.ImportFrom] = []
    bodies = []
    for module in SOURCES:
        found, body = _split(Path(module.__file__ or "").read_text(encoding="utf-8"))
        nodes += found
        bodies.append(f"# --- from {module.__name__} ---\n\n\n{body}")
    head = "from __future__ import annotations\n\n" + _imports(nodes)
    return HEADER + head + "\n\n" + "\n\n\n".join(bodies) + "\n"


if __name__ == "__main__":
    print(render(), end="")
