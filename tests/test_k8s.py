"""The Kubernetes manifests (deploy/k8s/): every overlay renders with ``kubectl kustomize``, every rendered
object validates against the Kubernetes OpenAPI schema (strict: an unknown key is an error) shipped in
kubernetes-validate, the PodMonitor against prometheus-operator's CRD (cloudcoil's models), and the
objects say what the daemon needs: one pod per shard, probes, a volume per pod, the fleet's config."""

from __future__ import annotations

import copy
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from sitewatch.daemon.config import Config
from sitewatch.daemon.sharding import assignment

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES = "1.32.0"
"""The API version the objects are checked against: a current release most clusters run or exceed."""
OVERLAYS = ["base", "overlays/gpu", "overlays/triton"]


def render(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not installed (.ci/run installs it)"
    out = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def strict_schema(model: Any) -> dict[str, Any]:
    """A JSON Schema of a cloudcoil (pydantic) model in the API's own key names, with unknown keys
    refused everywhere — as the API server's structural-schema pruning would drop them silently."""
    schema: dict[str, Any] = model.model_json_schema(by_alias=True)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node.setdefault("additionalProperties", False)
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    return schema


def validate(doc: dict[str, Any]) -> None:
    if doc["apiVersion"] == "monitoring.coreos.com/v1":
        from cloudcoil.models.prometheus_operator import v1

        jsonschema.validate(doc, strict_schema(getattr(v1, doc["kind"])))
        return
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith(name)]
    assert len(matches) == 1, [f"{d['kind']}/{d['metadata']['name']}" for d in docs]
    return matches[0]


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_validates(overlay: str) -> None:
    docs = render(K8S / overlay)
    kinds = {d["kind"] for d in docs}
    assert {"StatefulSet", "Service", "ConfigMap", "PodMonitor"} <= kinds, kinds
    for doc in docs:
        validate(doc)


def test_the_validation_refuses_a_misspelt_key() -> None:
    docs = render(K8S / "base")
    sts = copy.deepcopy(find(docs, "StatefulSet", "sitewatch"))
    container = sts["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(sts)
    monitor = copy.deepcopy(find(docs, "PodMonitor", "sitewatch"))
    monitor["spec"]["podMetricEndpoints"] = monitor["spec"].pop("podMetricsEndpoints")
    with pytest.raises(jsonschema.ValidationError):
        validate(monitor)


def test_one_pod_per_shard_with_probes_volumes_and_the_fleet_config() -> None:
    docs = render(K8S / "base")
    sts = find(docs, "StatefulSet", "sitewatch")
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    variables = env(container)
    assert variables["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}  # the ordinal: the shard
    assert variables["SITEWATCH_REPLICAS"] == str(spec["replicas"])
    assert variables["STATE_DIRECTORY"] == "/var/lib/sitewatch"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["envFrom"][0]["secretRef"]["name"] == "sitewatch-secrets"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["data"] == "/var/lib/sitewatch"
    assert [c["metadata"]["name"] for c in spec["volumeClaimTemplates"]] == ["data"]
    service = find(docs, "Service", "sitewatch")
    assert service["spec"]["clusterIP"] == "None" and spec["serviceName"] == service["metadata"]["name"]
    monitor = find(docs, "PodMonitor", "sitewatch")
    assert monitor["spec"]["podMetricsEndpoints"][0]["path"] == "/metrics"
    # the ConfigMap the pods mount holds a valid sitewatch config that listens where the probes look
    config_map = find(docs, "ConfigMap", "sitewatch-config")
    volume = next(v for v in pod["volumes"] if v["name"] == "config")
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]  # the hashed name, rolled on edits
    config = Config.model_validate(tomllib.loads(config_map["data"]["config.toml"]))
    assert config.service.http_port == container["ports"][0]["containerPort"]
    assert config.service.http_host == "0.0.0.0"
    shards = assignment((c.name for c in config.cameras), spec["replicas"])
    assert sum(len(v) for v in shards.values()) == len(config.cameras)
    assert config.sinks.mqtt.client_id and not any(str(p).startswith("/") for p in (config.state_file,))


def test_a_changed_replica_count_reaches_the_pods(tmp_path: Path) -> None:
    """The documented way to change the count (replicas: plus the shards component's replacement, after
    it) keeps SITEWATCH_REPLICAS equal to spec.replicas."""
    overlay = K8S / ".test-replicas"
    overlay.mkdir(exist_ok=True)
    try:
        component = yaml.safe_load((K8S / "components" / "shards" / "kustomization.yaml").read_text())
        kustomization = {
            "resources": ["../base"],
            "replicas": [{"name": "sitewatch", "count": 5}],
            "replacements": component["replacements"],
        }
        (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        sts = find(render(overlay), "StatefulSet", "sitewatch")
    finally:
        shutil.rmtree(overlay)
    assert sts["spec"]["replicas"] == 5
    assert env(sts["spec"]["template"]["spec"]["containers"][0])["SITEWATCH_REPLICAS"] == "5"


def test_the_gpu_overlay_asks_for_a_gpu_per_shard() -> None:
    sts = find(render(K8S / "overlays/gpu"), "StatefulSet", "sitewatch")
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_the_triton_overlay_serves_the_exported_model_to_every_shard() -> None:
    docs = render(K8S / "overlays/triton")
    triton = find(docs, "Deployment", "triton")
    pod = triton["spec"]["template"]["spec"]
    (export,) = pod["initContainers"]
    assert export["args"][:1] == ["export"] and export["args"][-3:] == ["--for", "triton", "/models"]
    (server,) = pod["containers"]
    assert "--model-repository=/models" in server["args"]
    assert server["resources"]["limits"]["nvidia.com/gpu"] == "1"
    ports = {p["name"]: p["port"] for p in find(docs, "Service", "triton")["spec"]["ports"]}
    config = Config.model_validate(
        tomllib.loads(find(docs, "ConfigMap", "sitewatch-config")["data"]["config.toml"])
    )
    assert config.model.backend == "remote"
    assert config.model.remote.url == f"grpc://triton:{ports['grpc']}"
    assert config.model.remote.model_name == "sitewatch"  # the name export --for triton gives it
    sts = find(docs, "StatefulSet", "sitewatch")
    assert sts["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "500m"
