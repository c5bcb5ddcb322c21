"""docker-compose.yml, its GPU override, .env.example, the Dockerfile, the n8n workflow and
deploy/check-secrets.sh, checked as data or run directly (no Docker engine needed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")
SECRETS = ("POSTGRES_PASSWORD", "TUNER_API_TOKEN", "N8N_ENCRYPTION_KEY")


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return _load("docker-compose.yml")["services"]


def test_compose_has_the_four_services(services: dict[str, Any]) -> None:
    assert set(services) == {"postgres", "mlflow", "tuner", "n8n"}


@pytest.mark.parametrize("name", ["postgres", "mlflow", "tuner", "n8n"])
def test_every_service_has_a_health_check(services: dict[str, Any], name: str) -> None:
    check = services[name]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL") and check["retries"] >= 3


@pytest.mark.parametrize("name, needs", [("mlflow", "postgres"), ("tuner", "mlflow"),
                                         ("n8n", "tuner")])
def test_services_start_after_their_dependency_is_healthy(services: dict[str, Any],
                                                          name: str, needs: str) -> None:
    assert services[name]["depends_on"] == {needs: {"condition": "service_healthy"}}


@pytest.mark.parametrize("name, port", [("mlflow", 5000), ("tuner", 8080), ("n8n", 5678)])
def test_ports_are_published_on_loopback_only(services: dict[str, Any], name: str,
                                              port: int) -> None:
    (mapping,) = services[name]["ports"]
    assert re.fullmatch(rf"127\.0\.0\.1:\$\{{[A-Z0-9_]+:-{port}\}}:{port}", mapping), mapping


def test_postgres_publishes_no_port(services: dict[str, Any]) -> None:
    assert "ports" not in services["postgres"]


def test_mlflow_uses_postgres_and_an_artifact_volume(services: dict[str, Any]) -> None:
    mlflow = services["mlflow"]
    assert mlflow["environment"]["MLFLOW_BACKEND_STORE_URI"].startswith(
        "postgresql+psycopg2://${POSTGRES_USER")
    assert "@postgres:5432/" in mlflow["environment"]["MLFLOW_BACKEND_STORE_URI"]
    command = mlflow["command"]
    assert command[command.index("--artifacts-destination") + 1] == "/mlartifacts"
    assert "--serve-artifacts" in command
    assert "mlflow-artifacts:/mlartifacts" in mlflow["volumes"]


def test_tuner_mounts_grids_and_datasets_read_only(services: dict[str, Any]) -> None:
    assert set(services["tuner"]["volumes"]) == {"./embedding_cache:/app/embedding_cache",
                                                 "./grids:/app/grids:ro",
                                                 "./datasets:/app/datasets:ro"}
    assert services["tuner"]["environment"]["MLFLOW_TRACKING_URI"] == \
        "${MLFLOW_TRACKING_URI:-http://mlflow:5000}"


def test_named_volumes_are_declared(services: dict[str, Any]) -> None:
    declared = set(_load("docker-compose.yml")["volumes"])
    used = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])
            if not v.startswith(".")}
    assert used == declared


@pytest.mark.parametrize("name", ["postgres", "mlflow", "tuner", "n8n"])
def test_environment_values_come_from_variables(services: dict[str, Any], name: str) -> None:
    """Except fixed hardening that .env must not undo."""
    environment = services[name]["environment"]
    assert isinstance(environment, dict)
    plain = {k: v for k, v in environment.items() if not VARIABLE.search(str(v))}
    assert plain == ({"N8N_BLOCK_ENV_ACCESS_IN_NODE": "true"} if name == "n8n" else {})


def test_tuner_runs_under_an_init_process(services: dict[str, Any]) -> None:
    """`docker stop` sends SIGTERM to PID 1; tini forwards it to tuner serve."""
    assert services["tuner"]["init"] is True


def test_tuner_answers_the_host_names_compose_uses(services: dict[str, Any]) -> None:
    command = services["tuner"]["command"]
    allowed = {command[i + 1] for i, arg in enumerate(command) if arg == "--allowed-host"}
    assert allowed == {"tuner", "localhost:${TUNER_PORT:-8080}", "127.0.0.1:${TUNER_PORT:-8080}"}


def test_n8n_workflows_cannot_read_the_environment(services: dict[str, Any]) -> None:
    """Issue #10 item 19: env access let workflow editors read N8N_ENCRYPTION_KEY."""
    environment = services["n8n"]["environment"]
    assert environment["N8N_BLOCK_ENV_ACCESS_IN_NODE"] == "true"
    assert "TUNER_API_TOKEN" not in environment


@pytest.mark.parametrize("name, secret", [("postgres", "POSTGRES_PASSWORD"),
                                          ("n8n", "N8N_ENCRYPTION_KEY")])
def test_containers_check_their_secret_before_starting(services: dict[str, Any], name: str,
                                                       secret: str) -> None:
    entrypoint = services[name]["entrypoint"]
    assert entrypoint[:4] == ["/bin/sh", "/deploy/check-secrets.sh", secret, "--"]
    assert "./deploy/check-secrets.sh:/deploy/check-secrets.sh:ro" in services[name]["volumes"]


def _env_example() -> dict[str, str]:
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    return dict(re.findall(r"^([A-Z0-9_]+)=(.*)$", text, flags=re.M))


def _check_secrets(secret: str, value: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], secret: value}
    return subprocess.run(["sh", str(REPO / "deploy" / "check-secrets.sh"), secret, "--",
                           "echo", "started"], env=env, capture_output=True, text=True,
                          timeout=30)


@pytest.mark.parametrize("secret", ["POSTGRES_PASSWORD", "N8N_ENCRYPTION_KEY"])
def test_check_secrets_refuses_the_env_example_placeholder(secret: str) -> None:
    done = _check_secrets(secret, _env_example()[secret])
    assert (done.returncode, done.stdout) == (78, "")
    assert f"{secret}: empty or still the placeholder of .env.example" in done.stderr


def test_check_secrets_runs_the_entrypoint_with_a_real_secret() -> None:
    done = _check_secrets("POSTGRES_PASSWORD", "k2JxV9-qL0w_Zr8tY3uN")
    assert (done.returncode, done.stdout) == (0, "started\n")


@pytest.mark.parametrize("secret", SECRETS)
def test_secrets_are_required_and_have_no_default(secret: str) -> None:
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    uses = re.findall(rf"\$\{{{secret}(:?[-?])?", text)
    assert uses and all(u == ":?" for u in uses)


def test_env_example_defines_every_variable_the_compose_files_use() -> None:
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    defined = set(re.findall(r"^([A-Z0-9_]+)=", example, flags=re.M))
    used = {m.group(1) for name in ("docker-compose.yml", "docker-compose.gpu.yml")
            for m in VARIABLE.finditer((REPO / name).read_text(encoding="utf-8"))}
    optional = {"MLFLOW_TRACKING_URI", "MLFLOW_DISABLE_TELEMETRY", "TORCH_INDEX_URL",
                "NVIDIA_VISIBLE_DEVICES"}
    assert used - optional <= defined


def test_n8n_sits_behind_a_profile(services: dict[str, Any]) -> None:
    assert services["n8n"]["profiles"] == ["n8n"]
    assert all("profiles" not in s for n, s in services.items() if n != "n8n")


def test_gpu_override_reserves_an_nvidia_device() -> None:
    tuner = _load("docker-compose.gpu.yml")["services"]["tuner"]
    (device,) = tuner["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]


def test_dockerfile_installs_cpu_torch_before_the_project() -> None:
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    torch = next(i for i, line in enumerate(lines) if "pip install torch==2.13.0" in line)
    project = next(i for i, line in enumerate(lines) if line.startswith("RUN pip install ."))
    assert [line for line in lines if line.startswith("FROM")] == ["FROM python:3.11-slim"]
    assert torch < project
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in lines


def _workflow() -> dict[str, Any]:
    return json.loads((REPO / "deploy" / "n8n" / "workflow.json").read_text(encoding="utf-8"))


def test_n8n_workflow_runs_every_two_weeks() -> None:
    trigger = next(n for n in _workflow()["nodes"]
                   if n["type"] == "n8n-nodes-base.scheduleTrigger")
    rule = trigger["parameters"]["rule"]["interval"][0]
    assert (rule["field"], rule["weeksInterval"]) == ("weeks", 2)


def test_n8n_workflow_starts_a_sweep_then_polls_its_status() -> None:
    workflow = _workflow()
    requests = {n["name"]: n["parameters"] for n in workflow["nodes"]
                if n["type"] == "n8n-nodes-base.httpRequest"}
    assert requests["Start sweep"]["method"] == "POST"
    assert requests["Start sweep"]["url"].endswith("/sweeps")
    assert "/sweeps/{{ $('Start sweep').item.json.id }}" in requests["Sweep status"]["url"]
    loop = workflow["connections"]["Still running?"]["main"][0][0]["node"]
    assert loop == "Wait 5 minutes"
    assert all(p["genericAuthType"] == "httpHeaderAuth" for p in requests.values())


def test_n8n_workflow_reads_no_environment_variable() -> None:
    text = (REPO / "deploy" / "n8n" / "workflow.json").read_text(encoding="utf-8")
    assert "$env" not in text
    assert all(n["credentials"] == {"httpHeaderAuth": {"id": "tuner-api-token",
                                                       "name": "tuner API token"}}
               for n in _workflow()["nodes"] if n["type"] == "n8n-nodes-base.httpRequest")
