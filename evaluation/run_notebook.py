"""Execute ``notebooks/retrieval_tuning.ipynb`` headless (CI, tests, ``python -m``).

The notebook reads its parameters from the environment (``EVAL_SET``, ``EVAL_PREFIX``,
``EVAL_OUT``), so this passes them to the kernel process instead of rewriting the notebook. The
executed copy goes to a separate file: the committed notebook stays free of outputs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from evaluation.dataset import REPO_ROOT

NOTEBOOK = REPO_ROOT / "notebooks" / "retrieval_tuning.ipynb"
DEFAULT_OUTPUT = REPO_ROOT / "evaluation" / "out" / "retrieval_tuning.executed.ipynb"
KERNEL = "python3"
DEFAULT_TIMEOUT = 1800  # seconds per cell; a cold corpus index embeds for many minutes


def execute(
    parameters: Mapping[str, str] | None = None,
    notebook: Path = NOTEBOOK,
    output: Path | None = DEFAULT_OUTPUT,
    timeout: int = DEFAULT_TIMEOUT,
) -> nbformat.NotebookNode:
    """Run every cell in a fresh ``python3`` kernel started in the repository root.

    Raises ``nbclient.exceptions.CellExecutionError`` when a cell fails.
    """
    # nbformat ships no type hints for read/write
    nb: nbformat.NotebookNode = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(REPO_ROOT)}},
    )
    env = {**os.environ, **(parameters or {})}
    client.execute(env=env)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, output)  # type: ignore[no-untyped-call]
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.run_notebook", description=__doc__)
    parser.add_argument("--set", choices=["corpus", "sample", "students", "all"], default="all")
    parser.add_argument("--prefix", default="eval")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT)
    args = parser.parse_args(argv)
    params = {"EVAL_SET": args.set, "EVAL_PREFIX": args.prefix}
    execute(params, output=args.output, timeout=args.timeout)
    print(f"executed notebook written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
