"""Which distance cut lets curated answers catch paraphrases without serving a wrong answer?

Each line of ``evaluation/data/curated_paraphrases.jsonl`` is one curated question of a course with
paraphrases a student might send (should get that answer) and related but different questions
(must not get any curated answer: same words, different ask). Every probe is embedded the way the
turn path embeds a question (normalized, the configured embedding model) and matched like
``CuratedMatcher``: the nearest curated question of the probe's own course, served when its
distance is within the cut. Per cut: hit rate on paraphrases, wrong matches (a paraphrase served
another curated answer, or a different question served any).

    .venv/bin/python -m bench.curated_threshold [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.core.config import get_settings
from app.core.embeddings import build_embedding
from app.services.lexical import normalize_question
from app.teaching.matcher import numbers_agree

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "evaluation" / "data" / "curated_paraphrases.jsonl"
THRESHOLDS = [round(0.01 * i, 2) for i in range(1, 21)]
WRONG_BUDGET = 0.01  # a curated answer to another question is worse than no curated answer


@dataclass
class Row:
    threshold: float
    paraphrase_hits: int
    paraphrases: int
    wrong_paraphrase: int
    different_matched: int
    differents: int

    @property
    def hit_rate(self) -> float:
        return self.paraphrase_hits / self.paraphrases

    @property
    def wrong_rate(self) -> float:
        return (self.wrong_paraphrase + self.different_matched) / (
            self.paraphrases + self.differents
        )


def unit(vectors: list[list[float]]) -> npt.NDArray[np.float64]:
    matrix = np.asarray(vectors, dtype=np.float64)
    normalized: npt.NDArray[np.float64] = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return normalized


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the table as JSON")
    parser.add_argument(
        "--no-number-guard", action="store_true", help="match on distance alone (for comparison)"
    )
    args = parser.parse_args()
    settings = get_settings()
    model = build_embedding(settings)
    items = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]

    def embed(texts: list[str]) -> npt.NDArray[np.float64]:
        return unit([model.get_query_embedding(normalize_question(t)) for t in texts])

    curated = embed([i["curated"] for i in items])
    courses = [i["course"] for i in items]
    probes: list[tuple[int, str, bool]] = []  # (own item, text, is a paraphrase)
    for index, item in enumerate(items):
        probes += [(index, text, True) for text in item["paraphrases"]]
        probes += [(index, text, False) for text in item["different"]]
    vectors = embed([text for _, text, _ in probes])
    nearest: list[tuple[int, float]] = []
    for (own, text, _), vector in zip(probes, vectors, strict=True):
        same_course = [i for i, c in enumerate(courses) if c == courses[own]]
        distances = 1.0 - curated[same_course] @ vector
        if not args.no_number_guard:
            agree = [numbers_agree(text, items[i]["curated"]) for i in same_course]
            distances = np.where(agree, distances, np.inf)
        best = int(np.argmin(distances))
        nearest.append((same_course[best], float(distances[best])))

    rows = []
    for t in THRESHOLDS:
        row = Row(t, 0, 0, 0, 0, 0)
        for (own, _, is_paraphrase), (match, distance) in zip(probes, nearest, strict=True):
            served = distance <= t
            if is_paraphrase:
                row.paraphrases += 1
                row.paraphrase_hits += served and match == own
                row.wrong_paraphrase += served and match != own
            else:
                row.differents += 1
                row.different_matched += served
        rows.append(row)
    guard_state = "off" if args.no_number_guard else "on"
    print(
        f"model {settings.embedding_model_name}, number guard {guard_state}; {len(items)} curated, "
        f"{rows[0].paraphrases} paraphrases, {rows[0].differents} different questions"
    )
    print("cut    hit rate   wrong (paraphrase→other / different→any)   wrong rate")
    for r in rows:
        print(
            f"{r.threshold:.2f}   {r.hit_rate:6.1%}     "
            f"{r.wrong_paraphrase:3d} / {r.different_matched:3d}"
            f"                            {r.wrong_rate:6.1%}"
        )
    within = [r for r in rows if r.wrong_rate <= WRONG_BUDGET]
    chosen = max(within, key=lambda r: r.threshold) if within else None
    if chosen:
        print(
            f"largest cut with wrong matches <= {WRONG_BUDGET:.0%}: {chosen.threshold:.2f} "
            f"(hit rate {chosen.hit_rate:.1%})"
        )
    para = sorted(d for (own, _, p), (m, d) in zip(probes, nearest, strict=True) if p and m == own)
    diff = sorted(d for (_, _, p), (_, d) in zip(probes, nearest, strict=True) if not p)
    para = [d for d in para if np.isfinite(d)] or [float("nan")]
    diff = [d for d in diff if np.isfinite(d)] or [float("nan")]
    print(
        f"paraphrase distances: median {np.median(para):.3f}, p90 {np.percentile(para, 90):.3f}; "
        f"different questions: min {diff[0]:.3f}, p10 {np.percentile(diff, 10):.3f}"
    )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))


if __name__ == "__main__":
    main()
