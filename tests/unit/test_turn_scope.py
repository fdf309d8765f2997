"""A turn's scope steers the query path: the page the student has open joins the postprocessor
chain right before the prompt budget and lifts near-ties only; the course's answer modes decide
the prompt for the materials an answer draws on."""

from __future__ import annotations

from llama_index.core.postprocessor import LongContextReorder
from llama_index.core.schema import NodeWithScore, TextNode

from app.rag.chain import before_budget
from app.rag.nodes import VECTOR_DISTANCE, note
from app.rag.page_context import PageContextPostprocessor, for_scope
from app.rag.postprocessors import DistanceCutoff, PromptBudget
from app.rag.scope import CourseScope, scope_filters
from app.services.cache import NO_PAGE_CONTEXT, page_context_tag
from app.teaching.modes import CourseModes, ModeLayer


def chunk(node_id: str, distance: float, material: str, page: int, fused: float) -> NodeWithScore:
    metadata = {"material_id": material, "page": page}
    node = NodeWithScore(node=TextNode(id_=node_id, text=node_id, metadata=metadata), score=fused)
    note(node, VECTOR_DISTANCE, distance)
    return node


def ids(nodes: list[NodeWithScore]) -> list[str]:
    return [n.node.node_id for n in nodes]


def test_the_page_step_goes_after_the_cut_and_any_reranker_and_before_the_budget() -> None:
    cut, reranker, budget = (
        DistanceCutoff(threshold=0.2),
        LongContextReorder(),
        PromptBudget(max_chars=900),
    )
    step = for_scope(CourseScope("c1", "modul_6", 14), top_k=5)
    assert isinstance(step, PageContextPostprocessor) and step.top_n == 5 and step.page == 14
    assert before_budget([cut, reranker, budget], step) == [cut, reranker, step, budget]
    assert before_budget([cut], step) == [cut, step]
    assert for_scope(CourseScope("c1"), top_k=5) is None


def test_page_context_lifts_near_ties_and_keeps_the_order_it_was_given_otherwise() -> None:
    # fused order (a reranker's or reciprocal-rank fusion's), not the cosine order
    a = chunk("a", 0.12, "modul_7", 3, fused=0.033)
    b = chunk("b", 0.10, "modul_7", 9, fused=0.032)
    c = chunk("c", 0.11, "modul_6", 14, fused=0.031)  # the open page, close to the others
    step = PageContextPostprocessor(material_id="modul_6", page=14)
    assert ids(step.postprocess_nodes([a, b, c])) == ["c", "a", "b"]
    best = chunk("best", 0.05, "modul_7", 2, fused=0.05)  # clearly better: still first
    assert ids(step.postprocess_nodes([best, c])) == ["best", "c"]
    far = chunk("far", 0.105, "modul_6", 30, fused=0.02)  # same material, far page: small lift
    near = chunk("near", 0.107, "modul_6", 15, fused=0.01)
    assert ids(step.postprocess_nodes([a, far, near])) == ["near", "far", "a"]
    assert ids(PageContextPostprocessor(material_id="x", page=1).postprocess_nodes([a, b])) == [
        "a",
        "b",
    ]


def test_page_context_never_changes_the_course_filter() -> None:
    plain, opened = CourseScope("c1"), CourseScope("c1", "modul_6", 14)
    assert scope_filters(opened) == scope_filters(plain)
    assert page_context_tag(None, None) == NO_PAGE_CONTEXT
    assert page_context_tag("modul_6", 14) == "modul_6:14"
    assert page_context_tag("modul_6", None) == "modul_6:0"


def test_the_answer_mode_counts_the_open_material_and_the_answers_materials() -> None:
    modes = CourseModes(declared=ModeLayer("direct", {"latihan": "guided"}))
    plain = CourseScope("c1", modes=modes)
    assert plain.answer_mode() == "direct" and plain.answer_mode(["modul"]) == "direct"
    assert plain.answer_mode(["modul", "latihan"]) == "guided"  # any guided material
    opened = CourseScope("c1", "latihan", 2, modes)
    assert opened.answer_mode() == "guided" and opened.answer_mode(["modul"]) == "guided"
    switched = CourseModes(ModeLayer("direct", {"latihan": "guided"}), ModeLayer("guided"))
    assert CourseScope("c1", modes=switched).answer_mode(["modul"]) == "guided"
    assert CourseScope("c1").answer_mode(["latihan"]) == "direct"  # no modes read: direct


def test_a_scope_at_the_questions_versions_is_the_same_scope_with_them() -> None:
    modes = CourseModes(declared=ModeLayer("direct"))
    scope = CourseScope("c1", "m1", 3, modes)
    read = scope.at({"c1": "v9"})
    assert read == scope and hash(read) == hash(scope)  # same courses, page and filters
    assert read.versions == {"c1": "v9"} and scope.versions == {}
    assert (read.material_id, read.page, read.modes) == ("m1", 3, modes)
    assert scope_filters(read) == scope_filters(scope)
