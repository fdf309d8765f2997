"""Every string the pages show exists in Indonesian and English (app/web/static/js/i18n.js), and
every key the lecturer's pages ask for is one of them."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "app" / "web" / "static"
KEY = re.compile(r"^    ([A-Za-z_]+): ", re.MULTILINE)


def _languages() -> dict[str, set[str]]:
    text = (STATIC / "js" / "i18n.js").read_text(encoding="utf-8")
    body = text[text.index("const STRINGS") :]
    id_part, en_part = body.split("\n  en: {", 1)
    return {"id": set(KEY.findall(id_part)), "en": set(KEY.findall(en_part.split("\n};")[0]))}


def test_both_languages_have_the_same_strings() -> None:
    languages = _languages()
    assert languages["id"] == languages["en"]
    assert len(languages["en"]) > 100


def test_every_key_the_lecturer_pages_use_exists() -> None:
    known = _languages()["en"]
    used: set[str] = set()
    for path in [*sorted((STATIC / "js" / "lecturer").glob("*.js")), STATIC / "lecturer.html"]:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\('([A-Za-z_]+)'", text))
        used |= set(re.findall(r'data-i18n(?:-label)?="([A-Za-z_]+)"', text))
    assert used and used - known == set()
    for prefix, values in (("mode_", ("direct", "guided")), ("nav", ("Insights", "Settings"))):
        assert {f"{prefix}{v}" for v in values} <= known
