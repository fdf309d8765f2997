"""Which questions retrieval may be tuned on (``dev``) and which are only ever reported
(``heldout``).

The split is stored on every question so it never moves: a question tuned on must not drift into
the held-out half when someone adds questions later. :func:`assign` gives a split only to
questions that have none, balancing each stratum (kind × course): within a stratum the new
questions are ordered by a hash of their id (stable, independent of file order) and each goes to
the side that is currently smaller in its stratum; on a tie, the side smaller over the whole set;
on a tie there too, the hash's parity. Run on a fresh set it yields a deterministic 50/50 split
(±1) with every stratum within one question of even.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, MutableMapping, Sequence
from typing import Any, Literal

Split = Literal["dev", "heldout"]
SPLITS: tuple[Split, ...] = ("dev", "heldout")
LEGACY = "legacy"  # the near-text sets written before the split existed: reported on their own


def stratum(item: MutableMapping[str, Any]) -> tuple[str, str]:
    return (str(item.get("kind")), str(item.get("course_id")))


def _hash(qid: str) -> int:
    return int(hashlib.sha256(qid.encode("utf-8")).hexdigest()[:12], 16)


def assign(items: Sequence[MutableMapping[str, Any]]) -> int:
    """Fill in ``split`` where it is missing, in place; returns how many were assigned."""
    counts: dict[tuple[str, str], Counter[str]] = {}
    total: Counter[str] = Counter()
    for item in items:
        if item.get("split") in SPLITS:
            counts.setdefault(stratum(item), Counter())[str(item["split"])] += 1
            total[str(item["split"])] += 1
    pending = sorted(
        (item for item in items if item.get("split") not in SPLITS),
        key=lambda item: _hash(str(item["id"])),
    )
    for item in pending:
        seen = counts.setdefault(stratum(item), Counter())
        side: Split = SPLITS[_hash(str(item["id"])) % 2]
        for tally in (seen, total):
            if tally["dev"] != tally["heldout"]:
                side = "dev" if tally["dev"] < tally["heldout"] else "heldout"
                break
        item["split"] = side
        seen[side] += 1
        total[side] += 1
    return len(pending)


def imbalance(items: Iterable[MutableMapping[str, Any]]) -> dict[tuple[str, str], int]:
    """Strata whose dev and held-out counts differ by more than one question."""
    counts: dict[tuple[str, str], Counter[str]] = {}
    for item in items:
        counts.setdefault(stratum(item), Counter())[str(item.get("split"))] += 1
    return {
        key: seen["dev"] - seen["heldout"]
        for key, seen in counts.items()
        if abs(seen["dev"] - seen["heldout"]) > 1
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m evaluation.splits [JSONL]``: give new questions a split, in place."""
    import argparse
    import json
    from pathlib import Path

    from evaluation.dataset import load_rows, set_path

    parser = argparse.ArgumentParser(prog="python -m evaluation.splits", description=__doc__)
    parser.add_argument("jsonl", nargs="?", type=Path, default=set_path("students"))
    path = parser.parse_args(argv).jsonl
    rows = load_rows(path)
    added = assign(rows)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    print(f"{added} question(s) given a split; {len(rows)} in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
