"""The Prometheus that canary analysis queries, when `flagger.prometheus` is unset.

Flagger's built-in checks for the `kubernetes` and `gatewayapi` providers query the app's own
`http_request_duration_seconds_{count,bucket}` series by `kubernetes_namespace` and `kubernetes_pod_name`
(fluxcd/flagger@v1.44.0:pkg/metrics/observers/http.go). Those two labels exist only where the scrape
config adds them, as the Prometheus bundled in Flagger's chart does (charts/flagger/templates/
prometheus.yaml, job kubernetes-pods). This one scrapes exactly that way, pinned by digest, only in the
canary apps' namespaces (where Flagger's canary-reader RoleBinding lets it list pods; no cluster-wide
read), and keeps a few hours of data.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.config import PlatformConfig
from components.models import LABELS

NAME = "prometheus"
PORT = 9090
SCRAPE_INTERVAL_SECONDS = 10
RETENTION = "6h"
UID = 65534      # the image's USER nobody (prometheus/prometheus Dockerfile)
REQUESTS = {"cpu": "10m", "memory": "128Mi"}
# The labels the analysis queries select on, and the pod metadata they come from.
TARGET_LABELS = {"kubernetes_namespace": "__meta_kubernetes_namespace",
                 "kubernetes_pod_name": "__meta_kubernetes_pod_name"}


def address(namespace: str) -> str:
    return f"http://{NAME}.{namespace}:{PORT}"


def scrape_config(namespaces: list[str]) -> dict:
    """prometheus.yml: pods that opt in with the prometheus.io/scrape annotation (port and path from
    prometheus.io/port and prometheus.io/path), labelled with their namespace and pod name the way the
    built-in queries expect. Running pods only: a finished canary pod's last samples would linger."""
    relabel = [
        {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], "action": "keep",
         "regex": "true"},
        {"source_labels": ["__meta_kubernetes_pod_phase"], "action": "keep", "regex": "Running"},
        {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_path"], "action": "replace",
         "regex": "(.+)", "target_label": "__metrics_path__"},
        {"source_labels": ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
         "action": "replace", "regex": r"([^:]+)(?::\d+)?;(\d+)", "replacement": "$1:$2",
         "target_label": "__address__"},
        {"action": "labelmap", "regex": "__meta_kubernetes_pod_label_(.+)"},
        *({"source_labels": [source], "action": "replace", "target_label": label}
          for label, source in TARGET_LABELS.items()),
    ]
    return {
        "global": {"scrape_interval": f"{SCRAPE_INTERVAL_SECONDS}s", "evaluation_interval": "30s"},
        "scrape_configs": [{
            "job_name": "kubernetes-pods",
            "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": sorted(namespaces)}}],
            "relabel_configs": relabel,
        }],
    }


@dataclass(frozen=True)
class PrometheusArgs:
    config: PlatformConfig
    provider: k8s.Provider
    namespace: str                                  # Flagger's namespace
    namespace_resource: pulumi.Resource
    app_namespaces: list[str]                       # the canary apps' namespaces (the pods it scrapes)


class CanaryPrometheus(pulumi.ComponentResource):
    """A one-replica Prometheus (emptyDir storage, non-root, read-only root filesystem) with the scrape
    config above. Output: address."""

    def __init__(self, name: str, args: PrometheusArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gitops-platform:flagger:Prometheus", name, None, opts)
        ns = args.namespace
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        in_ns = pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[args.namespace_resource]))
        labels = {**LABELS, "app.kubernetes.io/name": NAME}
        meta = lambda n: k8s.meta.v1.ObjectMetaArgs(name=n, namespace=ns, labels=labels)  # noqa: E731
        namespaces = sorted(set(args.app_namespaces))
        config_text = yaml.safe_dump(scrape_config(namespaces), sort_keys=False)
        account = k8s.core.v1.ServiceAccount(f"{name}-account", metadata=meta(NAME),
                                             automount_service_account_token=True, opts=in_ns)
        config_map = k8s.core.v1.ConfigMap(f"{name}-config", metadata=meta(f"{NAME}-config"),
                                           data={"prometheus.yml": config_text}, opts=in_ns)
        selector = {"app.kubernetes.io/name": NAME}
        probe = lambda path: k8s.core.v1.ProbeArgs(  # noqa: E731
            http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port=PORT), period_seconds=10)
        k8s.apps.v1.Deployment(
            f"{name}-deployment", metadata=meta(NAME),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels={**labels, **selector},
                        # A changed scrape config rolls the pod (Prometheus reads it at start).
                        annotations={"gitops-platform/config-sha256":
                                     hashlib.sha256(config_text.encode()).hexdigest()}),
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=NAME,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True, run_as_user=UID, run_as_group=UID, fs_group=UID,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")),
                        containers=[k8s.core.v1.ContainerArgs(
                            name=NAME, image=args.config.versions.image_prometheus,
                            args=["--config.file=/etc/prometheus/prometheus.yml",
                                  "--storage.tsdb.path=/prometheus/data",
                                  f"--storage.tsdb.retention.time={RETENTION}"],
                            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=PORT)],
                            readiness_probe=probe("/-/ready"), liveness_probe=probe("/-/healthy"),
                            resources=k8s.core.v1.ResourceRequirementsArgs(requests=REQUESTS,
                                                                           limits={"memory": "512Mi"}),
                            security_context=k8s.core.v1.SecurityContextArgs(
                                allow_privilege_escalation=False, read_only_root_filesystem=True,
                                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"])),
                            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="config", mount_path="/etc/prometheus"),
                                           k8s.core.v1.VolumeMountArgs(name="data", mount_path="/prometheus")])],
                        volumes=[k8s.core.v1.VolumeArgs(name="config", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                                     name=f"{NAME}-config")),
                                 k8s.core.v1.VolumeArgs(name="data", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                                     size_limit="2Gi"))]))),
            opts=pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=[config_map, account])))
        k8s.core.v1.Service(
            f"{name}-service", metadata=meta(NAME),
            spec=k8s.core.v1.ServiceSpecArgs(selector=selector, ports=[k8s.core.v1.ServicePortArgs(
                name="http", port=PORT, target_port="http")]),
            opts=in_ns)
        self.address = address(ns)
        self.register_outputs({"address": self.address})
