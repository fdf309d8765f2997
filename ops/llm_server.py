"""Run llama-cpp-python's OpenAI-compatible server as the project's own LLM endpoint.

Without an OpenAI key the app talks to ``python -m llama_cpp.server`` over the same OpenAI API it
would use for the real thing, so there is one code path for both. The server runs as a separate,
detached process (its own session, so Ctrl-C in the caller's terminal does not kill it), found
again through a pidfile under ``data_dir``; its log sits next to it.

Why these llama.cpp options (measured on a 2-core box, ~555-token prompts, 128-token answers):

* ``--logits_all False``: the server defaults to True, which computes the 152k-word output layer
  for every prompt token and keeps an ``n_ctx x vocab`` float array: 0.9 GB more RSS and a
  slower prompt (62-79 vs ~90 prompt tokens/s). Only the last token's logits are ever needed.
* ``--interrupt_requests False``: the default cancels a running stream as soon as any other
  request (a second user, even a ``/v1/models`` probe) waits for the model; queueing is what a
  multi-user tutor wants.
* Threads: with ``local_llm_threads`` = 0 llama-cpp-python's own choice stands (half the cores
  for generation, all of them for the prompt). On 2 cores two generation threads reach 20-27
  tokens/s on an idle box but fall to about 1 token/s next to one busy process (ggml's threads
  spin-wait for each other), while one thread gives 15-19 idle and 7-9 under the same load.
* ``--use_mlock False``: pinning 1 GB gains nothing on a box without swap and only warns when
  the memlock limit is low. ``n_batch`` 256 vs 512 and ``flash_attn`` made no measurable
  difference, so llama.cpp's defaults stay.
* One tiny completion right after start (about 0.4 s): the first request after loading can be
  slower while the weights are faulted in, and that should not be a student's wait.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.core.config import LOCAL_LLM_MODEL, Settings
from ops.model import KNOWN_MODELS, ensure_model

POLL_SECONDS = 0.5
PROBE_TIMEOUT_SECONDS = 2.0
LOG_TAIL_LINES = 30
WARM_UP_SECONDS = 120.0


def pidfile(settings: Settings) -> Path:
    return settings.data_dir / f"llm-{settings.local_llm_port}.pid"


def logfile(settings: Settings) -> Path:
    return settings.data_dir / f"llm-{settings.local_llm_port}.log"


def base_url(settings: Settings) -> str:
    """Where clients reach the server; a wildcard bind address is reached over loopback."""
    host = settings.local_llm_host
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.local_llm_port}"


def model_path(settings: Settings) -> Path:
    """The GGUF to serve: one of ours is fetched if missing; any other must already be there."""
    for spec in KNOWN_MODELS:
        if spec.file_name == settings.local_llm_model_file:
            return ensure_model(spec, settings.model_dir)
    path = settings.model_dir / settings.local_llm_model_file
    if not path.is_file():
        known = ", ".join(spec.file_name for spec in KNOWN_MODELS)
        raise RuntimeError(
            f"LOCAL_LLM_MODEL_FILE={settings.local_llm_model_file!r} is not in "
            f"{settings.model_dir} and is not one the project can fetch ({known})"
        )
    return path


def server_command(settings: Settings, model: Path) -> list[str]:
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model)]
    command += ["--model_alias", LOCAL_LLM_MODEL]
    command += ["--host", settings.local_llm_host, "--port", str(settings.local_llm_port)]
    command += ["--n_ctx", str(settings.local_llm_n_ctx)]
    command += ["--logits_all", "False", "--use_mlock", "False", "--interrupt_requests", "False"]
    if settings.local_llm_threads > 0:
        threads = str(settings.local_llm_threads)
        command += ["--n_threads", threads, "--n_threads_batch", threads]
    return command


def _read_pid(settings: Settings) -> int | None:
    try:
        return int(pidfile(settings).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """True if ``pid`` runs llama_cpp.server (a recycled pid running something else is not ours)."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child that already exited
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the pidfile
    return b"llama_cpp.server" in cmdline


def _answers(settings: Settings) -> bool:
    """``/v1/models`` answers. It waits for the model lock, so a long generation delays it."""
    try:
        response = httpx.get(f"{base_url(settings)}/v1/models", timeout=PROBE_TIMEOUT_SECONDS)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _listening(settings: Settings) -> bool:
    """Something owns the port: the server binds only once the model is loaded."""
    try:
        response = httpx.get(f"{base_url(settings)}/openapi.json", timeout=PROBE_TIMEOUT_SECONDS)
    except httpx.HTTPError:
        return False
    return response.status_code < 500


def is_ready(settings: Settings) -> bool:
    """Our server process is alive and serving.

    Probes ``/openapi.json`` rather than ``/v1/models``: every ``/v1/*`` route takes the single
    model lock, so during a long answer a ``/v1/models`` probe would hang (or, with the server's
    default ``interrupt_requests``, cut that answer off).
    """
    pid = _read_pid(settings)
    return pid is not None and _alive(pid) and _listening(settings)


def _log_tail(settings: Settings) -> str:
    try:
        lines = logfile(settings).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-LOG_TAIL_LINES:])


def _warm_up(settings: Settings) -> None:
    """The first completion after loading faults the weights in; pay for it here, not in a chat."""
    body = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(f"{base_url(settings)}/v1/chat/completions", json=body, timeout=WARM_UP_SECONDS)


def _wait_until_serving(
    settings: Settings, pid: int, process: subprocess.Popen[bytes] | None, deadline: float
) -> None:
    while not _answers(settings):
        exited = process.poll() is not None if process is not None else not _alive(pid)
        if exited:
            pidfile(settings).unlink(missing_ok=True)
            code = f" with code {process.returncode}" if process is not None else ""
            raise RuntimeError(
                f"the LLM server exited{code} while starting; "
                f"last lines of {logfile(settings)}:\n{_log_tail(settings)}"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the LLM server (pid {pid}) is not serving yet; it keeps starting in the "
                f"background (see {logfile(settings)})"
            )
        time.sleep(POLL_SECONDS)


def _serves_our_model(settings: Settings) -> bool:
    """/v1/models waits for the model lock (a running generation), hence the long timeout."""
    try:
        response = httpx.get(f"{base_url(settings)}/v1/models", timeout=120)
        ids = {m.get("id") for m in response.json().get("data", [])}
    except (httpx.HTTPError, ValueError, AttributeError):
        return False
    return LOCAL_LLM_MODEL in ids


def start(settings: Settings, wait_seconds: float = 180) -> int:
    """Start the server unless ours already runs; return its pid once it serves requests."""
    started = time.monotonic()
    deadline = started + wait_seconds
    pid = _read_pid(settings)
    if pid is not None and _alive(pid):
        if not _listening(settings):  # another start() is still loading it: wait, do not fork
            _wait_until_serving(settings, pid, None, deadline)
        print(f"llm: already running (pid {pid}) at {base_url(settings)}/v1", flush=True)
        return pid
    if _listening(settings):
        if _serves_our_model(settings):  # started from another checkout of the project
            print(f"llm: a server with our model already answers at {base_url(settings)}/v1")
            return 0
        raise RuntimeError(
            f"port {settings.local_llm_port} already serves something that is not our LLM "
            f"server; stop it or set LOCAL_LLM_PORT"
        )
    model = model_path(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with logfile(settings).open("ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {model}\n".encode())
        log.flush()
        process = subprocess.Popen(
            server_command(settings, model),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pidfile(settings).write_text(f"{process.pid}\n", encoding="utf-8")
    _wait_until_serving(settings, process.pid, process, deadline)
    loaded = time.monotonic() - started
    _warm_up(settings)
    print(
        f"llm: started pid {process.pid} serving {model.name} at {base_url(settings)}/v1 "
        f"(loaded in {loaded:.1f} s, warmed up in {time.monotonic() - started - loaded:.1f} s; "
        f"log {logfile(settings)})",
        flush=True,
    )
    return process.pid


def stop(settings: Settings, wait_seconds: float = 20) -> bool:
    """Stop our server; True if it was running. SIGKILL only if SIGTERM was not enough."""
    pid = _read_pid(settings)
    if pid is None or not _alive(pid):
        pidfile(settings).unlink(missing_ok=True)
        print("llm: not running", flush=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.1)
        print(f"llm: killed pid {pid} (did not stop within {wait_seconds:.0f} s)", flush=True)
    else:
        print(f"llm: stopped pid {pid}", flush=True)
    pidfile(settings).unlink(missing_ok=True)
    return True


def status(settings: Settings) -> int:
    """0 if our server runs and serves, else 1; prints one line either way."""
    pid = _read_pid(settings)
    if pid is not None and _alive(pid):
        if _listening(settings):
            print(f"llm: running (pid {pid}) at {base_url(settings)}/v1", flush=True)
            return 0
        print(f"llm: pid {pid} alive but not serving yet (see {logfile(settings)})", flush=True)
        return 1
    print("llm: not running", flush=True)
    return 1
