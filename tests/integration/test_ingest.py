"""`tutor-ingest` against the real Redis Stack: idempotency, replacement, pruning, isolation."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import redis
from redisvl.index import SearchIndex

from app.core.config import Settings
from app.core.knowledge import KnowledgeKeys, chunk_schema
from app.core.redis import SearchModuleMissingError, ensure_search_module
from ingest import cli
from ingest.pdf import FileStatus
from ingest.reindex import live_tag_separators, reconcile
from ops import redis_stack
from tests.conftest import CORPUS, REDIS_URL, SettingsFactory
from tests.support.ingest import ingest_paths, writer_for
from tests.support.pdfs import make_pdf

pytestmark = pytest.mark.integration

NETWORK_PAGES = [
    "Router adalah perangkat jaringan yang meneruskan paket antar jaringan berbeda. " * 4,
    "Switch menghubungkan perangkat dalam satu jaringan lokal dan memilah frame. " * 4,
]
KITCHEN_PAGES = [
    "Rendang adalah masakan daging berbumbu yang dimasak lama dengan santan. " * 4,
    "Sambal dibuat dari cabai yang diulek bersama bawang dan garam. " * 4,
]


def course(tmp_path: Path, name: str, files: dict[str, list[str]]) -> Path:
    folder = tmp_path / name
    for filename, pages in files.items():
        make_pdf(folder / filename, pages, header=f"{name} | Dosen Pengampu")
    return folder


def stored(settings: Settings, course_id: str) -> dict[str, dict[str, str]]:
    """Every chunk of a course as stored in Redis: id -> its hash fields."""
    writer, client = writer_for(settings)
    try:
        out = {}
        for key in writer.course_chunk_keys(course_id):
            raw = client.hgetall(key)
            out[key] = {
                k.decode(): v.decode(errors="replace") for k, v in raw.items() if k != b"vector"
            }
        return out
    finally:
        client.close()


def test_reingest_is_idempotent_and_a_changed_file_replaces_its_chunks(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = make_settings()
    folder = course(tmp_path, "jarkom", {"modul.pdf": NETWORK_PAGES})
    first = ingest_paths(settings, "jarkom", [folder])
    assert [(r.action, r.status) for r in first] == [("added", FileStatus.OK)]
    chunks = stored(settings, "jarkom")
    version = redis.Redis.from_url(REDIS_URL).get(
        KnowledgeKeys.from_settings(settings).version("jarkom")
    )

    second = ingest_paths(settings, "jarkom", [folder])
    assert [(r.action, r.status) for r in second] == [("unchanged", FileStatus.UNCHANGED)]
    assert stored(settings, "jarkom").keys() == chunks.keys()
    assert (
        redis.Redis.from_url(REDIS_URL).get(KnowledgeKeys.from_settings(settings).version("jarkom"))
        == version
    )

    make_pdf(
        folder / "modul.pdf",
        [NETWORK_PAGES[0], "Firewall menyaring lalu lintas jaringan. " * 5, "Access point."],
        header="jarkom | Dosen Pengampu",
    )
    third = ingest_paths(settings, "jarkom", [folder])
    assert third[0].action == "replaced"
    after = stored(settings, "jarkom")
    assert {v["page"] for v in after.values()} == {"1", "2"}  # page 3 has too little text
    assert any("Firewall" in v["text"] for v in after.values())
    assert not any("Switch menghubungkan" in v["text"] for v in after.values())
    new_version = redis.Redis.from_url(REDIS_URL).get(
        KnowledgeKeys.from_settings(settings).version("jarkom")
    )
    assert new_version != version


def test_prune_removes_files_that_left_the_folder_and_drop_course_removes_all(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = make_settings()
    folder = course(tmp_path, "mix", {"a.pdf": NETWORK_PAGES, "b.pdf": KITCHEN_PAGES})
    ingest_paths(settings, "mix", [folder])
    assert {v["filename"] for v in stored(settings, "mix").values()} == {"a.pdf", "b.pdf"}
    (folder / "b.pdf").unlink()
    ingest_paths(settings, "mix", [folder])  # without --prune nothing is removed
    assert {v["filename"] for v in stored(settings, "mix").values()} == {"a.pdf", "b.pdf"}
    results = ingest_paths(settings, "mix", [folder], prune=True)
    assert ("b.pdf", "removed") in {(r.filename, r.action) for r in results}
    assert {v["filename"] for v in stored(settings, "mix").values()} == {"a.pdf"}

    writer, client = writer_for(settings)
    try:
        assert writer.drop_course("mix") > 0
        assert writer.records("mix") == {}
        assert writer.chunk_count("mix") == 0
    finally:
        client.close()


def test_chunks_carry_course_material_file_page_and_label(
    make_settings: SettingsFactory, sample_index: str
) -> None:
    settings = make_settings(key_prefix=sample_index)
    chunks = stored(settings, "course_tik_01")
    module_a = [v for v in chunks.values() if v["material_id"] == "modul_infrastruktur_06"]
    assert module_a and all(v["course_id"] == "course_tik_01" for v in chunks.values())
    labels = {(int(v["page"]), v["page_label"]) for v in module_a}
    assert (3, "1") in labels and (2, "ii") in labels  # physical page 3 is printed "1"
    assert all(
        v["chunk_type"] in {"definition", "list", "table", "code", "text", "toc", "index"}
        for v in chunks.values()
    )
    assert not any("Sari Wulandari, M.Kom." in v["text"] for v in module_a if int(v["page"]) > 1)
    assert not stored(settings, "course_TIK_01")  # tags are case-sensitive: no cross-course match


def test_cli_reports_each_awkward_file_and_ingests_the_rest(
    make_settings: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    settings = make_settings()
    for key, value in {
        "KEY_PREFIX": settings.key_prefix,
        "REDIS_KNOWLEDGE_URL": REDIS_URL,
        "EMBEDDING_PROVIDER": "local",
        "OPENAI_API_KEY": "",
        "DATA_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(key, value)
    names = [
        "awk_encrypted_user_password.pdf",
        "awk_image_only_no_text_layer.pdf",
        "awk_broken_invalid_pages_tree.pdf",
        "awk_truncated_60pct_csc258.pdf",
        "awk_two_column_lorem.pdf",
    ]
    code = cli.main(["--course", "awk", "--path", *[str(CORPUS / n) for n in names]])
    out = capsys.readouterr().out
    assert code == 1
    # the image-only file is read by OCR and holds no text (pictures only)
    for status in ("encrypted", "no_text", "broken", "ok"):
        assert status in out
    files = {v["filename"] for v in stored(settings, "awk").values()}
    assert files == {"awk_two_column_lorem.pdf"}


def test_cli_dry_run_writes_nothing(
    make_settings: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings()
    monkeypatch.setenv("KEY_PREFIX", settings.key_prefix)
    code = cli.main(
        ["--dry-run", "--course", "so", "--path", str(CORPUS / "id_modul_sistem_operasi.pdf")]
    )
    assert code == 0 and "dry-run" in capsys.readouterr().out
    assert stored(settings, "so") == {}


def test_plain_redis_without_search_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        with pytest.raises(SearchModuleMissingError, match="no search module"):
            ensure_search_module(client, "redis://127.0.0.1:6379")
    finally:
        client.close()
    monkeypatch.setenv("REDIS_KNOWLEDGE_URL", "redis://127.0.0.1:6379/0")
    assert cli.main(["--course", "x", "--path", str(CORPUS / "awk_two_column_lorem.pdf")]) == 2
    assert "make redis" in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_index_survives_a_redis_stack_restart(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    """Start a second Redis Stack with the project's own script, ingest, restart it, count again."""
    port = _free_port()
    paths = redis_stack.StackPaths(
        cache_dir=Path.home() / ".cache" / "course-tutor", data_dir=tmp_path / "data", port=port
    )
    url = f"redis://127.0.0.1:{port}/0"
    settings = make_settings(redis_knowledge_url=url, redis_cache_url=url)
    redis_stack.start(paths)
    try:
        ingest_paths(settings, "net", [course(tmp_path, "net", {"m.pdf": NETWORK_PAGES})])
        before = stored(settings, "net")
        assert before
        redis_stack.stop(paths)
        redis_stack.start(paths)
        assert stored(settings, "net") == before
        writer, client = writer_for(settings)
        try:
            assert writer.records("net")["m.pdf"].chunks == len(before)
        finally:
            client.close()
    finally:
        redis_stack.stop(paths)


def test_openai_embeddings_get_their_own_index(
    make_settings: SettingsFactory, tmp_path: Path, scripted_llm: Any
) -> None:
    """With a key (here: an OpenAI-compatible test server) chunks are embedded remotely, in batches,
    into an index named for text-embedding-3-small and 1536 dimensions, apart from local vectors."""
    settings = make_settings(
        embedding_provider="openai", openai_api_key="sk-test", openai_api_base=scripted_llm.base_url,
        embedding_batch_size=2,
    )  # fmt: skip
    assert (
        settings.embedding_model_name == "text-embedding-3-small"
        and settings.embedding_dims == 1536
    )
    folder = course(tmp_path, "remote", {"m.pdf": NETWORK_PAGES + KITCHEN_PAGES})
    results = ingest_paths(settings, "remote", [folder])
    assert results[0].status is FileStatus.OK and results[0].chunks >= 4
    embed_calls = [r for r in scripted_llm.requests if r.path.endswith("/embeddings")]
    assert embed_calls and all(len(r.body["input"]) <= 2 for r in embed_calls)
    assert sum(len(r.body["input"]) for r in embed_calls) == results[0].chunks
    chunks = stored(settings, "remote")
    assert chunks and all("text-embedding-3-small-1536" in key for key in chunks)
    local = make_settings()
    assert stored(local, "remote") == {}  # the local model's index knows nothing of these


def test_a_file_name_with_a_comma_can_be_replaced_and_pruned(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = make_settings()
    name = "Modul 1, Bab 2.pdf"
    folder = course(tmp_path, "komma", {name: NETWORK_PAGES, "lain.pdf": KITCHEN_PAGES})
    ingest_paths(settings, "komma", [folder])
    make_pdf(folder / name, NETWORK_PAGES[:1], header="komma | Dosen Pengampu")  # changed file
    ingest_paths(settings, "komma", [folder])
    files = [chunk["filename"] for chunk in stored(settings, "komma").values()]
    assert files.count(name) == 1  # the old version's chunks were replaced, not left behind
    (folder / name).unlink()
    ingest_paths(settings, "komma", [folder], prune=True)
    assert {chunk["filename"] for chunk in stored(settings, "komma").values()} == {"lain.pdf"}


def test_an_index_made_with_the_old_tag_separator_is_rebuilt_without_losing_chunks(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = make_settings()
    ingest_paths(settings, "alt", [course(tmp_path, "alt", {"a.pdf": NETWORK_PAGES})])
    before = stored(settings, "alt")
    schema = chunk_schema(settings)
    old = chunk_schema(settings)
    old.fields["doc_id"].attrs.separator = ","  # type: ignore[union-attr]
    client = redis.Redis.from_url(settings.redis_knowledge_url)
    try:
        client.execute_command("FT.DROPINDEX", schema.index.name)
        SearchIndex(old, redis_client=client).create()
        assert live_tag_separators(client, schema.index.name)["doc_id"] == ","
        assert reconcile(client, schema) == ["doc_id"]
        assert live_tag_separators(client, schema.index.name)["doc_id"] == "|"
        assert reconcile(client, schema) == []  # already current: nothing to do
    finally:
        client.close()
    assert stored(settings, "alt") == before
