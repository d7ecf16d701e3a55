"""The Kubernetes manifests in deploy/k8s: rendered, schema-validated, and checked.

There is no kubectl here, so the kustomization is rendered by the small renderer below. It
implements exactly the kustomize fields the layout uses (resources, namespace, labels with
`pairs`, images) and refuses any other field, so that what is tested is what
`kubectl kustomize deploy/k8s` would produce. Teach it a new field before using one.

Every rendered object of a standard kind is validated strictly (unknown fields are
errors) against the Kubernetes JSON schemas shipped by the `kubernetes-validate` package.
Custom resources (the CloudNativePG `Cluster`, the Prometheus Operator's `ServiceMonitor` and
`PrometheusRule`) have no schema there: they are skipped from schema validation with the reason
shown, and their shape is checked by their own tests.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
RULES = ROOT / "deploy" / "monitoring" / "prometheus" / "rules"
NAMESPACE = "ybj"
IMAGE = "ybj/platform:latest"

# The Kubernetes version whose schemas the objects are validated against. kubernetes-validate
# >= 1.33 ships them.
K8S_VERSION = "1.33"

# API groups of custom resources: not in the Kubernetes schemas, so not schema-validated.
CRD_GROUPS = {
    "postgresql.cnpg.io": "CloudNativePG custom resource (needs the CNPG operator's CRD); "
    "kubernetes-validate has schemas for built-in kinds only. Shape checked in "
    "test_cnpg_cluster.",
    "monitoring.coreos.com": "Prometheus Operator custom resource (needs the operator's CRDs); "
    "kubernetes-validate has schemas for built-in kinds only. Shape checked in "
    "test_service_monitor_scrapes_the_service and test_prometheus_rule_is_the_rules_file.",
}

# name -> (port, env prefix)
SERVICES = {
    "gateway": (8000, "GATEWAY"),
    "enrollment": (8001, "ENROLLMENT"),
    "settlement": (8002, "SETTLEMENT"),
    "pricing": (8003, "PRICING"),
    "fraud": (8004, "FRAUD"),
}
DOMAIN_SERVICES = [name for name in SERVICES if name != "gateway"]
DATABASES = set(SERVICES)

Doc = dict[str, Any]


# --------------------------------------------------------------------------------------
# A small kustomize renderer: resources, namespace, labels, images. Nothing else.
# --------------------------------------------------------------------------------------

KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "resources", "namespace", "labels", "images"}
LABELS_FIELDS = {"pairs", "includeSelectors"}
IMAGES_FIELDS = {"name", "newName", "newTag", "digest"}
CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "PriorityClass",
    "StorageClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


class KustomizeError(Exception):
    pass


def _load_yaml_docs(path: Path) -> list[Doc]:
    with path.open(encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    for d in docs:
        if not isinstance(d, dict) or "kind" not in d or "apiVersion" not in d:
            raise KustomizeError(f"{path}: not a Kubernetes object: {d!r:.80}")
    return docs


def pod_specs(doc: Doc) -> Iterator[Doc]:
    """The pod specs inside an object (where kustomize's image transformer looks)."""
    kind = doc["kind"]
    if kind == "Pod":
        yield doc["spec"]
    elif kind in WORKLOAD_KINDS:
        yield doc["spec"]["template"]["spec"]
    elif kind == "CronJob":
        yield doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def all_containers(pod_spec: Doc) -> list[Doc]:
    return list(pod_spec.get("initContainers", [])) + list(pod_spec.get("containers", []))


def _split_image(image: str) -> tuple[str, str]:
    """'repo/name:tag' -> ('repo/name', ':tag'); '...@sha256:x' -> (name, '@sha256:x')."""
    if "@" in image:
        name, digest = image.split("@", 1)
        return name, "@" + digest
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon:]
    return image, ""


def _apply_images(docs: list[Doc], images: list[Doc], where: Path) -> None:
    for rule in images:
        unknown = set(rule) - IMAGES_FIELDS
        if unknown or "name" not in rule:
            raise KustomizeError(f"{where}: images entry not supported by this renderer: {rule}")
        for doc in docs:
            for spec in pod_specs(doc):
                for container in all_containers(spec):
                    name, suffix = _split_image(container["image"])
                    if name != rule["name"]:
                        continue
                    new_name = rule.get("newName", name)
                    if "digest" in rule:
                        suffix = "@" + rule["digest"]
                    elif "newTag" in rule:
                        suffix = ":" + str(rule["newTag"])
                    container["image"] = new_name + suffix


def _apply_labels(docs: list[Doc], labels: list[Doc], where: Path) -> None:
    for entry in labels:
        unknown = set(entry) - LABELS_FIELDS
        if unknown:
            raise KustomizeError(f"{where}: labels fields not supported by this renderer: {unknown}")
        if entry.get("includeSelectors", False):
            raise KustomizeError(f"{where}: labels.includeSelectors: true is not supported")
        for doc in docs:
            meta_labels = doc.setdefault("metadata", {}).setdefault("labels", {})
            meta_labels.update({str(k): str(v) for k, v in entry.get("pairs", {}).items()})


def render_kustomization(directory: Path, root: Path | None = None) -> list[Doc]:
    """Render `directory/kustomization.yaml` like `kubectl kustomize directory` would."""
    root = root or directory
    kfile = directory / "kustomization.yaml"
    if not kfile.is_file():
        raise KustomizeError(f"{directory}: no kustomization.yaml")
    spec = yaml.safe_load(kfile.read_text(encoding="utf-8")) or {}
    unknown = set(spec) - KUSTOMIZATION_FIELDS
    if unknown:
        raise KustomizeError(f"{kfile}: fields not supported by this renderer: {sorted(unknown)}")
    if spec.get("kind", "Kustomization") != "Kustomization":
        raise KustomizeError(f"{kfile}: kind must be Kustomization")

    docs: list[Doc] = []
    for entry in spec.get("resources", []):
        target = (directory / entry).resolve()
        if root.resolve() not in (target, *target.parents):
            raise KustomizeError(f"{kfile}: resource {entry} is outside {root}")
        if target.is_dir():
            docs.extend(render_kustomization(target, root))
        elif target.is_file():
            docs.extend(_load_yaml_docs(target))
        else:
            raise KustomizeError(f"{kfile}: resource {entry} does not exist")
    docs = copy.deepcopy(docs)

    _apply_labels(docs, spec.get("labels", []), kfile)
    _apply_images(docs, spec.get("images", []), kfile)
    if "namespace" in spec:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED_KINDS:
                doc["metadata"]["namespace"] = spec["namespace"]

    seen: set[tuple[str, str, str, str]] = set()
    for doc in docs:
        key = (doc["apiVersion"], doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])
        if key in seen:
            raise KustomizeError(f"{kfile}: duplicate object {key}")
        seen.add(key)
    return docs


@functools.cache
def _rendered() -> tuple[Doc, ...]:
    return tuple(render_kustomization(K8S))


def rendered() -> list[Doc]:
    return copy.deepcopy(list(_rendered()))


def objects(kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in rendered() if d["kind"] == kind}


def one(kind: str, name: str) -> Doc:
    found = objects(kind)
    assert name in found, f"no {kind}/{name} in the rendered manifests (have {sorted(found)})"
    return found[name]


def api_group(doc: Doc) -> str:
    api_version: str = doc["apiVersion"]
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def doc_id(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def matches(selector: Doc, labels: dict[str, str]) -> bool:
    """A LabelSelector against labels (matchLabels only: the manifests use nothing else)."""
    if "matchExpressions" in selector:
        raise AssertionError("matchExpressions: not understood by these tests")
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def pod_labels(name: str, kind: str = "Deployment") -> dict[str, str]:
    labels: dict[str, str] = one(kind, name)["spec"]["template"]["metadata"]["labels"]
    return labels


# --------------------------------------------------------------------------------------
# The renderer itself, and the layout
# --------------------------------------------------------------------------------------


def test_renderer_refuses_fields_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\npatches: []\n")
    with pytest.raises(KustomizeError, match="patches"):
        render_kustomization(tmp_path)


def test_renderer_applies_namespace_labels_and_images(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "kustomization.yaml").write_text("resources: [pod.yaml]\n")
    (tmp_path / "sub" / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec: {containers: [{name: c, image: 'reg:5000/x/app:old'}]}\n"
    )
    (tmp_path / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n")
    (tmp_path / "kustomization.yaml").write_text(
        "namespace: n\nresources: [ns.yaml, sub]\n"
        "labels: [{pairs: {team: t}}]\n"
        "images: [{name: reg:5000/x/app, newName: other/app, newTag: '2'}]\n"
    )
    ns, pod = render_kustomization(tmp_path)
    assert "namespace" not in ns["metadata"]
    assert pod["metadata"]["namespace"] == "n"
    assert pod["metadata"]["labels"] == {"team": "t"}
    assert pod["spec"]["containers"][0]["image"] == "other/app:2"


def _kustomization_files() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


def test_every_manifest_file_is_part_of_the_kustomization() -> None:
    manifests = {p.resolve() for p in K8S.rglob("*.yaml")}
    reachable: set[Path] = set()
    todo = [K8S / "kustomization.yaml"]
    while todo:
        kfile = todo.pop().resolve()
        reachable.add(kfile)
        for entry in yaml.safe_load(kfile.read_text(encoding="utf-8")).get("resources", []):
            target = (kfile.parent / entry).resolve()
            if target.is_dir():
                todo.append(target / "kustomization.yaml")
            else:
                reachable.add(target)
    orphans = manifests - reachable - {(K8S / "secret.example.yaml").resolve()}
    assert not orphans, f"manifests not reachable from deploy/k8s/kustomization.yaml: {sorted(orphans)}"


def test_secret_template_is_not_deployed() -> None:
    for kfile in _kustomization_files():
        resources = yaml.safe_load(kfile.read_text(encoding="utf-8")).get("resources", [])
        assert not [r for r in resources if "secret" in r.lower()], kfile
    assert not objects("Secret"), "no Secret belongs in the kustomization (real secrets are made by hand)"


def test_everything_is_in_the_namespace() -> None:
    docs = rendered()
    assert one("Namespace", NAMESPACE)
    for doc in docs:
        if doc["kind"] in CLUSTER_SCOPED_KINDS:
            continue
        assert doc["metadata"].get("namespace") == NAMESPACE, doc_id(doc)
        assert doc["metadata"]["labels"].get("app.kubernetes.io/part-of") == "ybj", doc_id(doc)


def test_namespace_enforces_restricted_pod_security() -> None:
    labels = one("Namespace", NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


# --------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------


def _secret_example_docs() -> list[Doc]:
    return _load_yaml_docs(K8S / "secret.example.yaml")


@pytest.mark.parametrize(
    "doc",
    [*_rendered(), *_secret_example_docs()],
    ids=lambda d: doc_id(d),
)
def test_schema(doc: Doc) -> None:
    group = api_group(doc)
    if group in CRD_GROUPS:
        pytest.skip(f"{doc_id(doc)} ({doc['apiVersion']}): {CRD_GROUPS[group]}")
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(p) for p in e.path)
        pytest.fail(f"{doc_id(doc)} is not valid Kubernetes {K8S_VERSION}: {path}: {e.message}")
    except kubernetes_validate.SchemaNotFoundError as e:
        pytest.fail(f"{doc_id(doc)}: {e.message} (a custom resource? add its group to CRD_GROUPS)")


def test_only_known_custom_resources() -> None:
    crds = sorted({d["apiVersion"] for d in rendered() if api_group(d) in CRD_GROUPS})
    assert crds == ["monitoring.coreos.com/v1", "postgresql.cnpg.io/v1"]


# --------------------------------------------------------------------------------------
# The five services
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_service_has_deployment_service_hpa_pdb(name: str) -> None:
    port, _ = SERVICES[name]
    deployment = one("Deployment", name)
    labels = pod_labels(name)
    assert matches(deployment["spec"]["selector"], labels)
    assert labels["app.kubernetes.io/component"] == "service"

    service = one("Service", name)
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items())
    (svc_port,) = service["spec"]["ports"]
    assert svc_port["port"] == port
    container_ports = {p["name"]: p["containerPort"] for p in _main_container(name)["ports"]}
    assert container_ports[svc_port["targetPort"]] == port

    hpa = one("HorizontalPodAutoscaler", name)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}

    pdb = one("PodDisruptionBudget", name)
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["minAvailable"] == 1
    assert matches(pdb["spec"]["selector"], labels)
    # A PDB of minAvailable 1 only lets a node drain if there is a second replica.
    assert hpa["spec"]["minReplicas"] >= 2
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"


def _main_container(name: str) -> Doc:
    spec = one("Deployment", name)["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert isinstance(container, dict)
    return container


def _env(container: Doc) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.mark.parametrize("name", SERVICES)
def test_service_command_image_and_env(name: str) -> None:
    port, prefix = SERVICES[name]
    spec = one("Deployment", name)["spec"]["template"]["spec"]
    (migrate,) = spec["initContainers"]
    main = _main_container(name)
    assert migrate["image"] == main["image"] == IMAGE
    assert "command" not in main and "command" not in migrate, "the image's ENTRYPOINT is used"
    assert migrate["args"] == [name, "--migrate-only"]
    assert main["args"] == [name, "--no-migrate"]
    # Service links would set e.g. ENROLLMENT_PORT=tcp://... in every pod.
    assert spec["enableServiceLinks"] is False
    assert spec["automountServiceAccountToken"] is False

    config = one("ConfigMap", "ybj-config")["data"]
    assert config["APP_ENV"] == "prod"
    assert config["NATS_URL"] == "nats://nats:4222"
    for container in (migrate, main):
        assert {"configMapRef": {"name": "ybj-config"}} in container["envFrom"]
        env = _env(container)
        assert env["INTERNAL_SECRET"] == {"secretKeyRef": {"name": "ybj-secrets", "key": "INTERNAL_SECRET"}}
        assert env[f"{prefix}_DATABASE_URL"] == {
            "secretKeyRef": {"name": "ybj-secrets", "key": f"{prefix}_DATABASE_URL"}
        }
        assert env[f"{prefix}_HOST"] == "0.0.0.0"
        assert env[f"{prefix}_PORT"] == str(port)
        # Each service sees only its own database URL.
        other_urls = {k for k in env if k.endswith("_DATABASE_URL")} - {f"{prefix}_DATABASE_URL"}
        assert not other_urls, other_urls


def test_gateway_knows_the_services() -> None:
    env = _env(_main_container("gateway"))
    for name in DOMAIN_SERVICES:
        port, prefix = SERVICES[name]
        assert env[f"GATEWAY_{prefix}_URL"] == f"http://{name}:{port}"
        assert one("Service", name)["spec"]["ports"][0]["port"] == port


@pytest.mark.parametrize("name", SERVICES)
def test_service_probes_and_resources(name: str) -> None:
    main = _main_container(name)
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert main["startupProbe"]["httpGet"]["path"] == "/healthz"
    port_names = {p["name"] for p in main["ports"]} | {p["containerPort"] for p in main["ports"]}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert main[probe]["httpGet"]["port"] in port_names
    spec = one("Deployment", name)["spec"]["template"]["spec"]
    for container in all_containers(spec):
        assert container["resources"] == {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "256Mi"},
        }, container["name"]


@pytest.mark.parametrize("name", SERVICES)
def test_service_writable_dirs_are_empty_dirs(name: str) -> None:
    spec = one("Deployment", name)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    var_dir = one("ConfigMap", "ybj-config")["data"]["VAR_DIR"]
    for container in all_containers(spec):
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        for path in ("/tmp", var_dir):  # noqa: S108 (a mount path in the pod, not a temp file here)
            assert path in mounts, f"{container['name']}: {path} not mounted"
            assert "emptyDir" in volumes[mounts[path]]


def _workloads() -> list[Doc]:
    return [d for d in rendered() if d["kind"] in WORKLOAD_KINDS]


def test_every_container_is_hardened() -> None:
    workloads = _workloads()
    assert {doc_id(w) for w in workloads} >= {f"Deployment/{n}" for n in SERVICES} | {"StatefulSet/nats"}
    for workload in workloads:
        for spec in pod_specs(workload):
            pod_sc = spec.get("securityContext", {})
            assert pod_sc.get("runAsNonRoot") is True, doc_id(workload)
            assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", doc_id(workload)
            for container in all_containers(spec):
                where = f"{doc_id(workload)} container {container['name']}"
                sc = container.get("securityContext", {})
                assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where
                uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
                assert isinstance(uid, int) and uid > 0, where
                assert sc.get("readOnlyRootFilesystem") is True, where
                assert sc.get("allowPrivilegeEscalation") is False, where
                assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
                assert not sc.get("capabilities", {}).get("add"), where
                assert not sc.get("privileged", False), where
                assert "limits" in container.get("resources", {}), where


def test_services_run_as_the_image_user() -> None:
    for name in SERVICES:
        spec = one("Deployment", name)["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsUser"] == 10001
        for container in all_containers(spec):
            assert container["securityContext"]["runAsUser"] == 10001


# --------------------------------------------------------------------------------------
# Network policies, evaluated
# --------------------------------------------------------------------------------------

Peer = tuple[str, dict[str, str]]  # (namespace, pod labels)
OUTSIDE: Peer = ("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})


def _peer_matches(rule_peer: Doc, peer: Peer) -> bool:
    namespace, labels = peer
    if "ipBlock" in rule_peer:
        return False  # no ipBlock rules in these manifests; pods are not modelled by IP
    ns_sel = rule_peer.get("namespaceSelector")
    pod_sel = rule_peer.get("podSelector")
    if ns_sel is None:
        # Same namespace only.
        return namespace == NAMESPACE and matches(pod_sel or {}, labels)
    ns_labels = {"kubernetes.io/metadata.name": namespace}
    return matches(ns_sel, ns_labels) and matches(pod_sel or {}, labels)


def _port_matches(rule_ports: list[Doc] | None, port: int) -> bool:
    if not rule_ports:
        return True
    return any(p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in rule_ports)


def allowed(direction: str, pod: dict[str, str], peer: Peer, port: int) -> bool:
    """Would the NetworkPolicies of the namespace let this connection through in `direction`
    ("Ingress": peer -> pod; "Egress": pod -> peer)? Unselected pods are open."""
    key = "ingress" if direction == "Ingress" else "egress"
    peers_key = "from" if direction == "Ingress" else "to"
    selecting = [
        p
        for p in objects("NetworkPolicy").values()
        if matches(p["spec"]["podSelector"], pod) and direction in p["spec"].get("policyTypes", ["Ingress"])
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(key, []):
            peers = rule.get(peers_key)
            if (not peers or any(_peer_matches(rp, peer) for rp in peers)) and _port_matches(
                rule.get("ports"), port
            ):
                return True
    return False


def _cnpg_pod() -> dict[str, str]:
    return {"cnpg.io/cluster": one("Cluster", "postgres")["metadata"]["name"], "role": "primary"}


def test_default_deny_ingress() -> None:
    deny = [
        p
        for p in objects("NetworkPolicy").values()
        if p["spec"]["podSelector"] == {}
        and p["spec"]["policyTypes"] == ["Ingress"]
        and not p["spec"].get("ingress")
    ]
    assert deny, "no default-deny ingress policy"
    assert not allowed("Ingress", {"app": "anything-new"}, (NAMESPACE, {}), 80)


def test_gateway_is_reachable_from_anywhere_on_8000_only() -> None:
    gateway = pod_labels("gateway")
    assert allowed("Ingress", gateway, OUTSIDE, 8000)
    assert allowed("Ingress", gateway, (NAMESPACE, {}), 8000)
    assert not allowed("Ingress", gateway, OUTSIDE, 8001)


@pytest.mark.parametrize("name", DOMAIN_SERVICES)
def test_domain_service_accepts_only_the_gateway(name: str) -> None:
    port, _ = SERVICES[name]
    target = pod_labels(name)
    assert allowed("Ingress", target, (NAMESPACE, pod_labels("gateway")), port)
    assert allowed("Egress", pod_labels("gateway"), (NAMESPACE, target), port)
    strangers: list[Peer] = [
        OUTSIDE,
        (NAMESPACE, {}),
        (NAMESPACE, pod_labels("nats", "StatefulSet")),
        (NAMESPACE, _cnpg_pod()),
        ("other", pod_labels("gateway")),  # a look-alike in another namespace
    ]
    strangers += [(NAMESPACE, pod_labels(other)) for other in DOMAIN_SERVICES if other != name]
    for peer in strangers:
        assert not allowed("Ingress", target, peer, port), f"{name} reachable from {peer}"


@pytest.mark.parametrize("name", SERVICES)
def test_services_reach_nats_and_postgres_and_nothing_else(name: str) -> None:
    me = pod_labels(name)
    nats = (NAMESPACE, pod_labels("nats", "StatefulSet"))
    postgres = (NAMESPACE, _cnpg_pod())
    assert allowed("Egress", me, nats, 4222) and allowed("Ingress", nats[1], (NAMESPACE, me), 4222)
    assert allowed("Egress", me, postgres, 5432) and allowed("Ingress", postgres[1], (NAMESPACE, me), 5432)
    assert allowed("Egress", me, ("kube-system", {"k8s-app": "kube-dns"}), 53)
    assert not allowed("Egress", me, ("elsewhere", {}), 443)
    # Nobody outside reaches NATS or PostgreSQL.
    assert not allowed("Ingress", nats[1], OUTSIDE, 4222)
    assert not allowed("Ingress", postgres[1], OUTSIDE, 5432)


@pytest.mark.parametrize("name", SERVICES)
def test_prometheus_in_the_monitoring_namespace_scrapes_each_service(name: str) -> None:
    port, _ = SERVICES[name]
    prometheus: Peer = ("monitoring", {"app.kubernetes.io/name": "prometheus"})
    assert allowed("Ingress", pod_labels(name), prometheus, port)
    assert not allowed("Ingress", pod_labels("nats", "StatefulSet"), prometheus, 4222)
    if name != "gateway":  # the gateway takes anyone on 8000
        assert not allowed(
            "Ingress", pod_labels(name), ("monitoring", {"app.kubernetes.io/name": "grafana"}), port
        )
        assert not allowed("Ingress", pod_labels(name), ("elsewhere", prometheus[1]), port)


def test_nats_and_postgres_members_reach_each_other() -> None:
    nats = pod_labels("nats", "StatefulSet")
    assert allowed("Ingress", nats, (NAMESPACE, nats), 6222)
    pg = _cnpg_pod()
    assert allowed("Ingress", pg, (NAMESPACE, {**pg, "role": "replica"}), 5432)
    assert allowed("Ingress", pg, ("cnpg-system", {"app.kubernetes.io/name": "cloudnative-pg"}), 8000)


# --------------------------------------------------------------------------------------
# Monitoring: the Prometheus Operator's ServiceMonitor and PrometheusRule per service
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_service_monitor_scrapes_the_service(name: str) -> None:
    monitor = one("ServiceMonitor", name)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    spec = monitor["spec"]
    assert set(spec) <= {"jobLabel", "selector", "endpoints", "namespaceSelector"}, set(spec)
    service = one("Service", name)
    assert matches(spec["selector"], service["metadata"]["labels"])
    # Only its own Service: no other Service of the namespace is selected.
    others = [
        n for n, svc in objects("Service").items() if matches(spec["selector"], svc["metadata"]["labels"])
    ]
    assert others == [name]
    # The job label is the service's name, which the alert rules select on (up{job="<name>"}).
    assert service["metadata"]["labels"][spec["jobLabel"]] == name
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert re.fullmatch(r"\d+s", endpoint["interval"]) and re.fullmatch(r"\d+s", endpoint["scrapeTimeout"])
    assert int(endpoint["scrapeTimeout"][:-1]) < int(endpoint["interval"][:-1])


@pytest.mark.parametrize("name", SERVICES)
def test_prometheus_rule_is_the_rules_file(name: str) -> None:
    rule = one("PrometheusRule", name)
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(rule["spec"]) == {"groups"}
    rules_file = yaml.safe_load((RULES / f"{name}.yml").read_text(encoding="utf-8"))
    assert rule["spec"] == rules_file, (
        f"deploy/k8s/{name}/prometheusrule.yaml differs from {RULES / name}.yml"
    )
    for group in rule["spec"]["groups"]:
        for alert in group["rules"]:
            assert set(alert) <= {"alert", "expr", "for", "labels", "annotations"}, alert["alert"]
            assert alert["labels"]["severity"] in {"critical", "warning"}
            assert alert["labels"]["service"] == name


# --------------------------------------------------------------------------------------
# NATS
# --------------------------------------------------------------------------------------


def _nats_conf() -> str:
    conf: str = one("ConfigMap", "nats-config")["data"]["nats.conf"]
    return conf


def test_nats_statefulset_is_a_three_node_jetstream_cluster() -> None:
    sts = one("StatefulSet", "nats")
    assert sts["spec"]["replicas"] == 3
    headless = one("Service", sts["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert matches({"matchLabels": headless["spec"]["selector"]}, pod_labels("nats", "StatefulSet"))
    assert one("Service", "nats")["spec"]["ports"][0]["port"] == 4222

    (container,) = sts["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("nats:2.10")
    assert container["args"] == ["--config", "/etc/nats/nats.conf"]
    env = _env(container)
    assert env["SERVER_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}

    conf = _nats_conf()
    jetstream = re.search(r"^jetstream\s*\{(.*?)^\}", conf, re.S | re.M)
    assert jetstream, "no jetstream block in nats.conf"
    store = re.search(r"store_dir:\s*(\S+)", jetstream.group(1))
    assert store
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert store.group(1).startswith(mounts[claim["metadata"]["name"]] + "/"), (
        "JetStream store not on the PVC"
    )
    assert "server_name: $SERVER_NAME" in conf
    routes = set(re.findall(r"nats://([\w.-]+):6222", conf))
    assert routes == {f"nats-{i}.{headless['metadata']['name']}" for i in range(3)}

    pdb = one("PodDisruptionBudget", "nats")
    assert pdb["spec"]["minAvailable"] == 2, "keep the JetStream quorum"


def test_nats_conf_is_accepted_by_nats_server(tmp_path: Path) -> None:
    server = shutil.which("nats-server")
    if server is None:
        pytest.skip("nats-server binary not installed: nats.conf only checked structurally")
    conf = _nats_conf()
    # The paths inside the pod are not writable here; the syntax check does not need them.
    conf = conf.replace("/data/jetstream", str(tmp_path / "js")).replace(
        "/var/run/nats/nats.pid", str(tmp_path / "nats.pid")
    )
    path = tmp_path / "nats.conf"
    path.write_text(conf, encoding="utf-8")
    env = {**os.environ, "SERVER_NAME": "nats-0"}
    result = subprocess.run(
        [server, "-t", "-c", str(path)], capture_output=True, text=True, env=env, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------------------
# PostgreSQL (CloudNativePG) and the secret template
# --------------------------------------------------------------------------------------


def test_cnpg_cluster() -> None:
    cluster = one("Cluster", "postgres")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    spec = cluster["spec"]
    assert spec["instances"] == 3
    assert spec["storage"]["size"]
    initdb = spec["bootstrap"]["initdb"]
    created = {initdb["database"]}
    for statement in initdb["postInitApplicationSQL"]:
        m = re.fullmatch(r"CREATE DATABASE (\w+) OWNER (\w+)", statement.strip())
        assert m, statement
        assert m.group(2) == initdb["owner"]
        created.add(m.group(1))
    assert created == DATABASES
    secret_names = {d["metadata"]["name"]: d for d in _secret_example_docs()}
    app_secret = secret_names[initdb["secret"]["name"]]
    assert app_secret["type"] == "kubernetes.io/basic-auth"
    assert app_secret["stringData"]["username"] == initdb["owner"]


def test_secret_template_covers_what_the_deployments_read() -> None:
    secrets = {d["metadata"]["name"]: d for d in _secret_example_docs()}
    wanted: dict[str, set[str]] = {}
    for workload in _workloads():
        for spec in pod_specs(workload):
            for container in all_containers(spec):
                for value in _env(container).values():
                    if isinstance(value, dict) and "secretKeyRef" in value:
                        ref = value["secretKeyRef"]
                        wanted.setdefault(ref["name"], set()).add(ref["key"])
    assert wanted == {
        "ybj-secrets": {"INTERNAL_SECRET", *(f"{p}_DATABASE_URL" for _, p in SERVICES.values())}
    }
    data = secrets["ybj-secrets"]["stringData"]
    assert set(data) == wanted["ybj-secrets"]
    cluster = one("Cluster", "postgres")["metadata"]["name"]
    for name, (_, prefix) in SERVICES.items():
        url = data[f"{prefix}_DATABASE_URL"]
        assert re.fullmatch(rf"postgresql\+asyncpg://[^:@/]+:[^@/]+@{cluster}-rw:5432/{name}", url), url
