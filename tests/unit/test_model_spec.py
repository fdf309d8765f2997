"""`ensure_model` on tiny real wheel files: exact bytes, hash check, resume and the fast path."""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from ops.model import ModelError, ModelSpec, ensure_model

VERSION = "1.0.0"
PREFIX = "tiny-model-part"
PAYLOADS = [b"GGUF" + bytes(range(256)) * 3, b"\x00middle\xff" * 100, b"the end"]


def _wheel_name(index: int) -> str:
    return f"tiny_model_part{index}-{VERSION}-py3-none-any.whl"


def _make_wheel(folder: Path, index: int, payload: bytes, member_index: int | None = None) -> Path:
    module = f"tiny_model_part{index}"
    path = folder / _wheel_name(index)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        wheel.writestr(f"{module}/__init__.py", "")
        wheel.writestr(f"{module}/data/part{member_index or index:02d}.bin", payload)
        wheel.writestr(f"{module}-{VERSION}.dist-info/METADATA", f"Name: {module}\n")
    return path


def _spec(sha256: str | None = None, size: int | None = None) -> ModelSpec:
    whole = b"".join(PAYLOADS)
    return ModelSpec(
        name="tiny",
        file_name="tiny.gguf",
        package_prefix=PREFIX,
        parts=len(PAYLOADS),
        version=VERSION,
        size=len(whole) if size is None else size,
        sha256=sha256 or hashlib.sha256(whole).hexdigest(),
    )


class FakeIndex:
    """Stands in for `pip download`: copies prebuilt wheels and records what was asked for."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.calls: list[str] = []

    def __call__(self, requirement: str, dest: Path) -> None:
        self.calls.append(requirement)
        name, version = requirement.split("==")
        index = int(name.removeprefix(PREFIX))
        assert version == VERSION
        shutil.copy(self.source / _wheel_name(index), dest)


@pytest.fixture
def index(tmp_path: Path) -> FakeIndex:
    source = tmp_path / "index"
    source.mkdir()
    for number, payload in enumerate(PAYLOADS, start=1):
        _make_wheel(source, number, payload)
    return FakeIndex(source)


def _no_download(requirement: str, dest: Path) -> None:
    raise AssertionError(f"unexpected download of {requirement}")


def test_assembles_exact_bytes_in_part_order(
    tmp_path: Path, index: FakeIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    model_dir = tmp_path / "models"
    path = ensure_model(_spec(), model_dir, download=index)

    assert path == model_dir / "tiny.gguf"
    assert path.read_bytes() == b"".join(PAYLOADS)
    assert index.calls == [f"{PREFIX}{n}=={VERSION}" for n in (1, 2, 3)]
    assert not (model_dir / "wheels").exists()
    assert not (model_dir / "tiny.gguf.partial").exists()
    assert "[2/3] tiny-model-part2 ..." in capsys.readouterr().out


def test_second_call_takes_the_fast_path(tmp_path: Path, index: FakeIndex) -> None:
    model_dir = tmp_path / "models"
    first = ensure_model(_spec(), model_dir, download=index)
    assert ensure_model(_spec(), model_dir, download=_no_download) == first


def test_touched_file_is_rehashed_not_downloaded(tmp_path: Path, index: FakeIndex) -> None:
    model_dir = tmp_path / "models"
    path = ensure_model(_spec(), model_dir, download=index)
    os.utime(path, ns=(1, 1))  # the marker no longer vouches for it
    assert ensure_model(_spec(), model_dir, download=_no_download) == path
    assert path.read_bytes() == b"".join(PAYLOADS)


def test_wrong_hash_raises_and_leaves_no_file(tmp_path: Path, index: FakeIndex) -> None:
    model_dir = tmp_path / "models"
    with pytest.raises(ModelError, match="sha256"):
        ensure_model(_spec(sha256="0" * 64), model_dir, download=index)
    # No model, no partial file, and no wheels that would rebuild the same wrong file.
    assert [p.name for p in model_dir.iterdir() if not p.name.startswith(".")] == []


def test_wrong_size_raises(tmp_path: Path, index: FakeIndex) -> None:
    with pytest.raises(ModelError, match="bytes"):
        ensure_model(_spec(size=5), tmp_path / "models", download=index)
    assert not (tmp_path / "models" / "tiny.gguf").exists()


def test_resumes_with_wheels_already_downloaded(tmp_path: Path, index: FakeIndex) -> None:
    wheels = tmp_path / "models" / "wheels" / "tiny"
    wheels.mkdir(parents=True)
    _make_wheel(wheels, 1, PAYLOADS[0])
    (wheels / _wheel_name(2)).write_bytes(b"PK\x03\x04 truncated")  # an interrupted copy

    path = ensure_model(_spec(), tmp_path / "models", download=index)

    assert index.calls == [f"{PREFIX}2=={VERSION}", f"{PREFIX}3=={VERSION}"]
    assert path.read_bytes() == b"".join(PAYLOADS)


def test_wheel_with_the_wrong_part_is_rejected(tmp_path: Path, index: FakeIndex) -> None:
    _make_wheel(index.source, 2, PAYLOADS[1], member_index=3)
    with pytest.raises(ModelError, match="expected part 2"):
        ensure_model(_spec(), tmp_path / "models", download=index)
    assert not (tmp_path / "models" / "tiny.gguf").exists()
