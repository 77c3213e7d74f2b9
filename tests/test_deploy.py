"""The Kubernetes manifests parse and agree with the code: ports, settings, metric names, queue."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from rapport.settings import Settings
from realtime.metrics import METRIC_NAMES
from realtime.recorder import TASK_QUEUE

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
# What the Temporal SDK's Prometheus exporter names its metrics (checked live in test_metrics).
TEMPORAL_SDK_METRICS = ("temporal_worker_task_slots_used", "temporal_worker_task_slots_available")


def _documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text(encoding="utf-8")) if d]


def _one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"one {kind} expected, found {len(found)}"
    return found[0]


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def _queries(scaled: dict[str, Any]) -> list[str]:
    return [t["metadata"]["query"] for t in scaled["spec"]["triggers"] if t["type"] == "prometheus"]


def test_every_manifest_parses_and_kustomize_lists_them() -> None:
    """Each YAML file parses; kustomization.yaml names every manifest in the folder."""
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text(encoding="utf-8"))
    manifests = sorted(p.name for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(kustomization["resources"]) == manifests
    for name in manifests:
        for doc in _documents(name):
            assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"]


def test_the_agent_serves_its_metrics_where_settings_say_and_scales_on_calls_cpu_and_backlog() -> None:
    """Agent pods: metrics port = RAPPORT_METRICS_PORT's default, capacity = the setting's default,
    and a ScaledObject on active calls (70% of capacity per pod), CPU and event buffer depth,
    each query naming a metric the agent really exports."""
    docs = _documents("agent.yaml")
    deployment = _one(docs, "Deployment")
    container = _container(deployment)
    env = _env(container)
    defaults = Settings.from_env({})
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == defaults.metrics_port == int(env["RAPPORT_METRICS_PORT"])
    assert int(env["RAPPORT_AGENT_CAPACITY"]) == defaults.agent_capacity
    assert float(env["RAPPORT_LOAD_THRESHOLD"]) == defaults.load_threshold
    assert "PROMETHEUS_MULTIPROC_DIR" in env
    service = _one(docs, "Service")
    assert service["spec"]["ports"][0]["port"] == defaults.metrics_port
    scaled = _one(docs, "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert {t["type"] for t in scaled["spec"]["triggers"]} == {"prometheus", "cpu"}
    queries = _queries(scaled)
    named = {m for q in queries for m in re.findall(r"\brapport_[a-z_]+", q)}
    assert named == {"rapport_active_calls", "rapport_event_buffer_depth"}
    assert named <= set(METRIC_NAMES)
    calls = next(
        t for t in scaled["spec"]["triggers"] if "rapport_active_calls" in t["metadata"].get("query", "")
    )
    assert int(calls["metadata"]["threshold"]) == round(defaults.agent_capacity * defaults.load_threshold)


def test_the_worker_serves_sdk_metrics_and_scales_on_its_task_queue() -> None:
    """Worker pods: metrics port = RAPPORT_WORKER_METRICS_PORT's default; scaled on the task queue
    the recorder uses (Temporal's backlog), on task slots in use (an SDK metric) and on CPU."""
    docs = _documents("worker.yaml")
    container = _container(_one(docs, "Deployment"))
    defaults = Settings.from_env({})
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert (
        ports["metrics"]
        == defaults.worker_metrics_port
        == int(_env(container)["RAPPORT_WORKER_METRICS_PORT"])
    )
    scaled = _one(docs, "ScaledObject")
    triggers = {t["type"]: t for t in scaled["spec"]["triggers"]}
    assert set(triggers) == {"temporal", "prometheus", "cpu"}
    assert triggers["temporal"]["metadata"]["taskQueue"] == TASK_QUEUE
    query = _queries(scaled)[0]
    assert any(name in query for name in TEMPORAL_SDK_METRICS)
    assert TASK_QUEUE in query


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8")))


def test_compose_serves_the_metrics_ports_inside_its_network() -> None:
    """docker-compose.yml (one host) sets and exposes to its network the ports the settings
    default to, for a Prometheus beside them."""
    compose = _compose()
    defaults = Settings.from_env({})
    agent, worker = compose["services"]["agent"], compose["services"]["worker"]
    assert agent["expose"] == [str(defaults.metrics_port)]
    assert worker["expose"] == [str(defaults.worker_metrics_port)]
    assert agent["environment"]["RAPPORT_METRICS_PORT"] == str(defaults.metrics_port)
    assert worker["environment"]["RAPPORT_WORKER_METRICS_PORT"] == str(defaults.worker_metrics_port)


def test_compose_publishes_only_the_dashboard_and_livekits_media() -> None:
    """Temporal (which starts calls and answers CRM lookups), PostgreSQL and the metrics stay inside
    the compose network; only the dashboard and LiveKit's signalling and media are published."""
    published = {
        name: service["ports"] for name, service in _compose()["services"].items() if "ports" in service
    }
    assert published == {
        "livekit": ["7880:7880", "7881:7881", "50000-50100:50000-50100/udp"],
        "dashboard": ["8090:8090"],
    }


def test_compose_takes_every_key_and_password_from_the_environment() -> None:
    """No dev keys, no fixed password: each comes from a variable compose refuses to start without
    (`${NAME:?…}`), and LiveKit does not run in --dev mode."""
    services = _compose()["services"]
    assert "--dev" not in services["livekit"]["command"]
    secrets = {
        ("livekit", "LIVEKIT_KEYS"),
        ("postgres", "POSTGRES_PASSWORD"),
        ("temporal", "POSTGRES_PWD"),
        ("worker", "DATABASE_URL"),
        ("dashboard", "DATABASE_URL"),
        ("agent", "LIVEKIT_API_KEY"),
        ("agent", "LIVEKIT_API_SECRET"),
    }
    for service, name in secrets:
        value = services[service]["environment"][name]
        assert re.search(r"\$\{(LIVEKIT_API_KEY|LIVEKIT_API_SECRET|POSTGRES_PASSWORD):\?", value), (
            service,
            name,
        )
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "devkey" not in text and "rapport:rapport@" not in text
