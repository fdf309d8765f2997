from __future__ import annotations

from ingest.chunking import chunk_page, classify

PARAGRAPH = "Sistem operasi mengelola memori, proses dan perangkat masukan keluaran komputer. " * 6


def test_chunks_respect_the_word_budget_and_are_numbered_on_the_page() -> None:
    text = "\n\n".join([PARAGRAPH] * 6)
    chunks = chunk_page(text, size_words=120, overlap_words=20)
    assert len(chunks) >= 4
    assert [c.position for c in chunks] == list(range(1, len(chunks) + 1))
    assert all(len(c.text.split()) <= 120 for c in chunks)
    words = set(text.split())
    assert all(set(c.text.split()) <= words for c in chunks)


def test_overlap_repeats_the_tail_of_the_previous_chunk() -> None:
    units = [
        f"Kalimat nomor {i} menjelaskan konsep ke-{i} dengan cukup panjang sekali."
        for i in range(40)
    ]
    chunks = chunk_page("\n".join(units), size_words=60, overlap_words=15)
    tail = " ".join(chunks[0].text.split()[-15:])
    assert " ".join(chunks[1].text.split()).startswith(tail)


def test_a_single_huge_block_is_split() -> None:
    chunks = chunk_page("kata " * 1000, size_words=100, overlap_words=0)
    assert len(chunks) == 10


def test_classification_heuristics() -> None:
    assert classify("def f(x):\n    return x + 1\nprint(f(2))\nfor i in range(3):") == "code"
    assert classify("<html>\n<head>\n<title>Hi</title>\n</head>") == "code"
    assert (
        classify(
            "Perangkat   Fungsi   Lapisan\nHub   Meneruskan   1\nSwitch   Memilah   2\nRouter   Merutekan   3"
        )
        == "table"
    )
    assert (
        classify(
            "Fungsi sistem operasi:\n1) Manajemen memori\n2) Manajemen prosesor\n3) Manajemen file"
        )
        == "list"
    )
    assert classify("Router adalah perangkat yang meneruskan paket antar jaringan.") == "definition"
    assert classify("Kemarin hujan turun sepanjang sore di kota.") == "text"
    toc = "\n".join(f"{i}. Bab tentang topik {i} … {i * 3}" for i in range(1, 7))
    assert classify(toc) == "toc"
    terms = [
        "recursion",
        "base case",
        "stack diagram",
        "infinite loop",
        "tuple",
        "list method",
        "dict",
    ]
    index = "\n".join(f"{term}, {i * 2}, {i * 5}" for i, term in enumerate(terms, 1))
    assert classify(index) == "index"
