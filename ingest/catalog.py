"""Find the courses and their material: ``courses/<course_id>/*.pdf`` plus an optional course.yaml.

course.yaml (every key optional)::

    course_id: course_tik_01        # must equal the folder name when given
    title: Manajemen Infrastruktur TI
    language: id
    answer_mode: direct             # or guided: hints and questions instead of full solutions
    ocr_languages: ind+eng          # Tesseract languages for scanned pages (default: from language)
    materials:
      - file: 06_modul.pdf
        material_id: modul_infrastruktur_06
        title: "Modul 6"
        password: "..."             # for PDFs encrypted with a user password
        answer_mode: guided         # this material only (e.g. an exercise sheet)

Files without an entry get a material id made from the file name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from app.core.identifiers import InvalidIdentifierError, normalize_course_id
from app.teaching.modes import ANSWER_MODES, AnswerMode, parse_mode


class CatalogError(ValueError):
    """A course folder or course.yaml that cannot be used as is."""


@dataclass(frozen=True)
class Material:
    path: Path
    material_id: str
    title: str
    passwords: tuple[str, ...] = ()
    answer_mode: AnswerMode | None = None

    @property
    def filename(self) -> str:
        return self.path.name


@dataclass
class Course:
    course_id: str
    folder: Path | None
    title: str = ""
    language: str = ""
    materials: list[Material] = field(default_factory=list)
    answer_mode: AnswerMode | None = None
    ocr_languages: str = ""


def material_id_for(filename: str) -> str:
    stem = Path(filename).stem.lower()
    return re.sub(r"[^a-z0-9]+", "_", stem).strip("_")[:64] or "material"


def validate_course_id(course_id: str) -> str:
    """The course id as the server will see it (one rule: :mod:`app.core.identifiers`)."""
    try:
        return normalize_course_id(course_id)
    except InvalidIdentifierError as exc:
        raise CatalogError(str(exc)) from exc


def _answer_mode(value: object, where: str) -> AnswerMode | None:
    if value is None:
        return None
    mode = parse_mode(value)
    if mode is None:
        raise CatalogError(f"{where}: answer_mode must be one of {', '.join(ANSWER_MODES)}")
    return mode


def _read_yaml(path: Path) -> dict[str, object]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: expected a mapping at the top level")
    return data


def _entries(data: dict[str, object], path: Path) -> dict[str, dict[str, object]]:
    raw = data.get("materials") or []
    if not isinstance(raw, list):
        raise CatalogError(f"{path}: `materials` must be a list")
    entries: dict[str, dict[str, object]] = {}
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("file"), str):
            raise CatalogError(f"{path}: each material needs a `file` name")
        entries[item["file"]] = item
    return entries


def load_course(folder: Path, course_id: str | None = None) -> Course:
    """The course in ``folder``: its PDFs (sorted) with ids and titles from course.yaml."""
    course_id = validate_course_id(course_id or folder.name)
    yaml_path = folder / "course.yaml"
    data = _read_yaml(yaml_path) if yaml_path.exists() else {}
    declared = data.get("course_id")
    if declared is not None and str(declared) != course_id:
        raise CatalogError(f"{yaml_path}: course_id {declared!r} differs from {course_id!r}")
    entries = _entries(data, yaml_path)
    course = Course(
        course_id,
        folder,
        str(data.get("title") or ""),
        str(data.get("language") or ""),
        answer_mode=_answer_mode(data.get("answer_mode"), str(yaml_path)),
    )
    course.ocr_languages = str(data.get("ocr_languages") or "")
    seen: set[str] = set()
    for pdf in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".pdf"):
        entry = entries.get(pdf.name, {})
        material_id = str(entry.get("material_id") or material_id_for(pdf.name))
        if material_id in seen:
            raise CatalogError(f"{folder}: material id {material_id!r} is used twice")
        seen.add(material_id)
        password = entry.get("password")
        course.materials.append(
            Material(
                path=pdf,
                material_id=material_id,
                title=str(entry.get("title") or pdf.stem),
                passwords=(str(password),) if password else (),
                answer_mode=_answer_mode(entry.get("answer_mode"), f"{yaml_path} ({pdf.name})"),
            )
        )
    return course


def course_from_paths(course_id: str, paths: list[Path]) -> Course:
    """An ad-hoc course from explicit files or folders (``tutor-ingest --course X --path ...``)."""
    course_id = validate_course_id(course_id)
    if len(paths) == 1 and paths[0].is_dir():
        return load_course(paths[0], course_id)
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() == ".pdf")
        elif path.is_file():
            files.append(path)
        else:
            raise CatalogError(f"{path}: no such file or folder")
    course = Course(course_id, None)
    for pdf in files:
        course.materials.append(Material(pdf, material_id_for(pdf.name), pdf.stem))
    return course


def discover(courses_dir: Path) -> list[Course]:
    """Every course folder under ``courses_dir`` (folders starting with '.' or '_' are ignored)."""
    if not courses_dir.is_dir():
        raise CatalogError(
            f"{courses_dir}: no such folder (put PDFs under {courses_dir}/<course_id>/)"
        )
    return [
        load_course(folder)
        for folder in sorted(courses_dir.iterdir())
        if folder.is_dir() and not folder.name.startswith((".", "_"))
    ]
