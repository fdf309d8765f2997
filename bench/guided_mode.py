"""Does guided mode keep the solution to itself? Judged by the local LLM with a rubric.

Ten exercise and assignment questions (``evaluation/data/guided_exercises.jsonl``), each with the
course text that teaches the method and the full solution. Each question is answered twice by the
local model through the app's own prompts: direct (``app.services.prompt.answer_messages``) and
guided (the same messages with ``app.teaching.guided_prompt.with_guided_system``). The local model
then judges each reply against the solution with a YES/NO rubric ("does the reply give away the
solution?"); a marker check (the final result appears verbatim, e.g. ``255.255.255.192``) is a
second, mechanical opinion. Also counted: replies that ask the student a question and that name
the page.

    .venv/bin/python -m bench.guided_mode [--rounds 1]   (needs the local LLM: `make llm`)
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.schema import NodeWithScore, TextNode

from app.core.config import get_settings
from app.services.prompt import answer_messages
from app.teaching.guided_prompt import guard_reply, with_guided_system

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "evaluation" / "data" / "guided_exercises.jsonl"

JUDGE = """You grade a tutor's reply to a student's exercise. The tutor must NOT give away the \
solution. The full solution of the exercise is:
<solution>{solution}</solution>
The tutor's reply is:
<reply>{reply}</reply>
Does the reply give away the solution, i.e. state the final result or all the steps that produce \
it? A hint, the general formula or a question back is NOT giving it away. Answer with one word: \
YES or NO."""
PAGE = re.compile(r"\b(?:hal\.?|halaman|p\.|page)\s*\d+", re.IGNORECASE)


def chunk(item: dict[str, Any]) -> NodeWithScore:
    """An exercise page as the retriever hands it to the prompt."""
    metadata = {
        "course_id": "bench",
        "material_id": "exercises",
        "filename": "latihan.pdf",
        "title": "Latihan",
        "page": int(item["page"]),
        "page_label": str(item["page"]),
        "position": 1,
        "chunk_type": "text",
    }
    return NodeWithScore(node=TextNode(id_=item["id"], text=item["source"], metadata=metadata))


def chat(
    client: httpx.Client, url: str, model: str, messages: list[dict[str, str]], temp: float
) -> str:
    body = {"model": model, "messages": messages, "temperature": temp, "max_tokens": 250}
    response = client.post(url, json=body, timeout=300)
    response.raise_for_status()
    return str(response.json()["choices"][0]["message"]["content"]).strip()


def wire(messages: list[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role.value, "content": str(m.content)} for m in messages]


def leaked_by_marker(reply: str, markers: list[str]) -> bool | None:
    if not markers:
        return None
    flat = reply.replace("\u00a0", " ")
    return any(marker.lower() in flat.lower() for marker in markers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="answers per question and mode")
    parser.add_argument("--json", type=Path, help="write every reply and verdict here")
    parser.add_argument(
        "--modes", default="guided,direct", help="comma-separated: guided, direct (for comparison)"
    )
    args = parser.parse_args()
    settings = get_settings()
    url = f"{settings.llm_api_base}/chat/completions"
    model = settings.model_comprehensive
    items = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]
    results: list[dict[str, Any]] = []
    started = time.perf_counter()
    with httpx.Client() as client:
        for _ in range(args.rounds):
            for item in items:
                base = answer_messages(item["question"], [chunk(item)], item["language"], 1200)
                prompts = {"direct": base, "guided": with_guided_system(base, item["language"])}
                for mode in args.modes.split(","):
                    messages = prompts[mode]
                    raw = chat(client, url, model, wire(messages), settings.openai_temperature)
                    # what the student sees: guided replies end after their page line
                    reply = guard_reply(raw, item["language"]) if mode == "guided" else raw
                    verdict = chat(
                        client,
                        url,
                        model,
                        [
                            {
                                "role": "user",
                                "content": JUDGE.format(solution=item["solution"], reply=reply),
                            }
                        ],
                        0.0,
                    )
                    results.append(
                        {
                            "id": item["id"],
                            "mode": mode,
                            "reply": reply,
                            "raw": raw,
                            "raw_marker_leak": leaked_by_marker(raw, item["markers"]),
                            "judge_leak": verdict.strip().upper().startswith("YES"),
                            "marker_leak": leaked_by_marker(reply, item["markers"]),
                            "asks_back": "?" in reply,
                            "names_page": bool(PAGE.search(reply)),
                        }
                    )
                    print(
                        f"{item['id']:>12} {mode:>6}: judge leak={results[-1]['judge_leak']!s:5} "
                        f"marker leak={results[-1]['marker_leak']!s:5} {reply[:70]!r}",
                        flush=True,
                    )
    print(f"\n{len(results)} replies in {time.perf_counter() - started:.0f} s, model {model}")
    print(
        "mode     judged leaks   marker leaks   asks a question   names the page   judge=marker"
        "   marker leaks before the guard"
    )
    for mode in ("direct", "guided"):
        rows = [r for r in results if r["mode"] == mode]
        marked = [r for r in rows if r["marker_leak"] is not None]
        agree = sum(r["judge_leak"] == r["marker_leak"] for r in marked)
        print(
            f"{mode:7}  {sum(r['judge_leak'] for r in rows):3d}/{len(rows):<3d}       "
            f"{sum(bool(r['marker_leak']) for r in marked):3d}/{len(marked):<3d}        "
            f"{sum(r['asks_back'] for r in rows):3d}/{len(rows):<3d}           "
            f"{sum(r['names_page'] for r in rows):3d}/{len(rows):<3d}          "
            f"{agree}/{len(marked)}            "
            f"{sum(bool(r['raw_marker_leak']) for r in marked)}/{len(marked)}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
