from __future__ import annotations

from ingest.clean import boilerplate_keys, clean_pages, is_garbage, normalize


def test_tabs_hyphenation_and_symbol_bullets_are_normalized() -> None:
    raw = "M.\tDedy\tRosyadi\nLorem adip-\niscing elit\ncontoh-\ncontoh dan operasi-\noperasinya\n\uf0fc satu"
    text = normalize(raw)
    assert "M. Dedy Rosyadi" in text
    assert "adipiscing" in text
    assert "contoh-contoh" in text and "operasi-operasinya" in text
    assert "• satu" in text


def test_hyphen_after_a_digit_is_kept() -> None:
    assert "2-\ninput" in normalize("a 2-\ninput gate")


def test_running_headers_footers_and_page_numbers_are_removed() -> None:
    topics = [
        "memori",
        "prosesor",
        "berkas",
        "jaringan",
        "keamanan",
        "perangkat",
        "antarmuka",
        "sejarah",
    ]
    pages = [
        f"Modul Pengantar TIK\nFABRIYAN FANDI {n}\nBab tentang {topic}.\n{topic.title()} dibahas di sini.\n{n}"
        for n, topic in enumerate(topics, 1)
    ]
    cleaned = clean_pages(pages)
    assert all("Modul Pengantar TIK" not in page and "FABRIYAN" not in page for page in cleaned)
    assert cleaned[2] == "Bab tentang berkas.\nBerkas dibahas di sini."


def test_a_line_repeated_in_the_body_is_not_a_header() -> None:
    pages = [
        "\n".join(
            [
                *[f"Awal {n}-{i}." for i in range(5)],
                "Kalimat yang sama.",
                *[f"Lanjutan {n}-{i}." for i in range(5)],
            ]
        )
        for n in range(6)
    ]
    keys = boilerplate_keys([normalize(p) for p in pages])
    assert "kalimat yang sama." not in keys  # repeats on every page, but in the body
    assert all("Kalimat yang sama." in page for page in clean_pages(pages))


def test_glyph_code_text_layers_are_detected() -> None:
    assert is_garbage("/G49/G46/G47 /G50/G51 " * 20)
    assert is_garbage("(cid:12)(cid:15)(cid:3) " * 20)
    assert not is_garbage(
        "Sistem operasi adalah perangkat lunak yang mengelola perangkat keras. " * 5
    )
    assert not is_garbage("A font name /G49 appears once in normal prose about glyphs and text.")


def test_a_footer_read_with_and_without_its_page_number_is_one_footer() -> None:
    # OCR of a scan misses a small page number on some pages and reads the page edge as "|"
    footers = [
        "NAMA PENULIS 5",
        "NAMA PENULIS",
        "NAMA PENULIS 7 |",
        "NAMA PENULIS",
        "NAMA PENULIS 9",
    ]
    pages = [
        f"Isi halaman {n} tentang topik {n}.\nKalimat kedua {n}.\n{f}"
        for n, f in enumerate(footers)
    ]
    assert all("NAMA PENULIS" not in page for page in clean_pages(pages))
