"""The grounding check as the engine applies it: which answer it returns, per RAG_GROUNDING."""

from __future__ import annotations

from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from app.rag.analysis import Stemming
from app.rag.answer import Answer
from app.rag.checks import GroundingCheck, strip_sentences
from app.rag.grounding import GroundingChecker
from app.rag.refusal import RefusalRule

SOURCE = "Router meneruskan paket antar jaringan berdasarkan alamat IP tujuan pada tabel routing."
SUPPORTED = "Router meneruskan paket antar jaringan berdasarkan alamat IP tujuan."
INVENTED = "Perangkat ini ditemukan oleh Napoleon Bonaparte pada tahun 1805 di Paris."


def answer(text: str) -> Answer:
    node = NodeWithScore(node=TextNode(id_="c:m:1:1", text=SOURCE), score=0.9)
    return Answer(text, "rag", 0.2, nodes=(node,), used=1)


def check(mode: str) -> GroundingCheck:
    return GroundingCheck(GroundingChecker(Stemming.SNOWBALL, 0.5), mode)  # type: ignore[arg-type]


async def test_remove_takes_out_the_unsupported_sentence_and_says_so() -> None:
    result = await check("remove").check(QueryBundle("q"), answer(f"{SUPPORTED} {INVENTED}"), "id")
    assert result.text == SUPPORTED and result.source == "rag" and result.revised
    assert result.removed == (INVENTED,) and result.nodes


async def test_mostly_unsupported_or_strict_mode_becomes_not_covered() -> None:
    for mode, text in (("remove", INVENTED), ("not_covered", f"{SUPPORTED} {INVENTED}")):
        result = await check(mode).check(QueryBundle("q"), answer(text), "id")
        assert result.source == "not_covered" and result.nodes == () and result.revised
        assert result.not_covered_reason == "grounding" and not result.grounded


async def test_a_supported_answer_is_returned_as_it_is() -> None:
    given = answer(SUPPORTED)
    assert await check("not_covered").check(QueryBundle("q"), given, "id") is given
    assert await check("off").check(QueryBundle("q"), answer(INVENTED), "id") == answer(INVENTED)


def test_strip_keeps_the_lines_of_a_list() -> None:
    text = "Intro kalimat satu.\n\n- butir benar.\n- butir palsu.\n\nPenutup."
    assert (
        strip_sentences(text, ["butir palsu."])
        == "Intro kalimat satu.\n\n- butir benar.\n\nPenutup."
    )


def test_the_lexical_test_of_the_default_rule_is_off() -> None:
    assert not RefusalRule(0.20, 0.13, 0.0, 1.01).lexical
    assert RefusalRule(0.20, 0.13, 0.1, 1.01).lexical
