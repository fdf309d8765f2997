"""Deployment files: Kubernetes manifests against the Kubernetes API schemas (kubernetes-validate),
the Compose file against the Compose specification (check-jsonschema's vendored schema), and the
nginx proxy configuration run for real — Debian's nginx in front of two tutor servers, with a
WebSocket chat through it. No Docker engine or cluster runs here: images are not built and the
manifests are not applied."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml

from app.core.config import Settings
from tests.conftest import ROOT, Tutor
from tests.support.client import ask, connect
from tests.support.scripted_openai import Reply
from tests.support.serve import free_port

pytestmark = pytest.mark.integration

K8S = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.33"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.stem for p in MANIFESTS])
def test_kubernetes_manifests_match_the_api_schema(path: Path) -> None:
    kubernetes_validate.validate(load(path), K8S_VERSION, strict=True)


def test_the_schema_validator_does_reject_a_broken_manifest() -> None:
    broken = copy.deepcopy(load(K8S / "deployment.yaml"))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pathh"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    listed = set(load(K8S / "kustomization.yaml")["resources"])
    assert listed == {p.name for p in MANIFESTS} - {"secret.example.yaml"}


def test_deployment_probes_drain_and_autoscaling_fit_together() -> None:
    deployment = load(K8S / "deployment.yaml")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert "/drain" in " ".join(container["lifecycle"]["preStop"]["exec"]["command"])
    config = load(K8S / "configmap.yaml")["data"]
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in config.items()})  # type: ignore[arg-type]
    assert pod["terminationGracePeriodSeconds"] >= settings.shutdown_grace_seconds + 15
    hpa = load(K8S / "hpa.yaml")["spec"]
    assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert (
        hpa["minReplicas"] >= 2
        and deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    )


def test_compose_file_matches_the_compose_specification() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(ROOT / "deploy" / "compose.yaml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    compose = load(ROOT / "deploy" / "compose.yaml")
    assert compose["services"]["app"]["deploy"]["replicas"] >= 2
    mounts = " ".join(compose["services"]["proxy"]["volumes"])
    assert "tutor.conf" in mounts and "upstream.conf" in mounts


@pytest.fixture
def nginx_in_front(
    tutor_factory: Callable[..., Tutor], tmp_path: Path
) -> Iterator[tuple[str, list[Tutor]]]:
    """Debian's nginx with the project's proxy configuration, in front of two tutor servers."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is installed by `make install` (tutor-ops system install)"
    replicas = [tutor_factory(), tutor_factory()]
    port = free_port()
    servers = "\n".join(f"    server {t.url.removeprefix('http://')};" for t in replicas)
    site = (ROOT / "deploy" / "nginx" / "tutor.conf").read_text()
    assert "listen 8080;" in site
    (tmp_path / "tutor.conf").write_text(site.replace("listen 8080;", f"listen 127.0.0.1:{port};"))
    (tmp_path / "nginx.conf").write_text(
        f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path};\n"
        f"  proxy_temp_path {tmp_path};\n"
        f"  upstream tutor {{\n    least_conn;\n{servers}\n  }}\n"
        f"  include {tmp_path}/tutor.conf;\n}}\n"
    )
    test = subprocess.run([nginx, "-t", "-c", str(tmp_path / "nginx.conf")], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert test.returncode == 0, test.stderr
    process = subprocess.Popen([nginx, "-c", str(tmp_path / "nginx.conf")])
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield base, replicas
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_websocket_chat_through_the_nginx_proxy_reaches_both_replicas(
    nginx_in_front: tuple[str, list[Tutor]],
) -> None:
    base, replicas = nginx_in_front
    replicas[0].llm.default = Reply.from_text("Lewat proxy.")
    sockets = [(await connect(base, user_id=f"proxied{i}", course_id="course_tik_01"))[0]
               for i in range(4)]  # fmt: skip
    try:
        turn = await ask(sockets[0], "Apa itu manajemen infrastruktur TI?")
        assert turn.final["type"] == "chat_response" and turn.final["response"] == "Lewat proxy."
        assert [c["chunk_index"] for c in turn.chunks] == list(range(1, len(turn.chunks) + 1))
        async with httpx.AsyncClient() as http:
            gauges = []
            for replica in replicas:  # least_conn spread the sockets over both replicas
                body = (await http.get(f"{replica.url}/metrics")).text
                line = next(x for x in body.splitlines() if x.startswith("tutor_ws_connections "))
                gauges.append(float(line.split()[1]))
            assert sum(gauges) == 4 and min(gauges) >= 1
            assert (await http.get(f"{base}/metrics")).status_code == 404  # not through the proxy
            assert (await http.get(f"{base}/drain")).status_code == 404
            assert (await http.get(f"{base}/ws/status")).json()["active_connections"] >= 4
    finally:
        for ws in sockets:
            await ws.close()
