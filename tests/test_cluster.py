"""Each cluster flavour gives the same interface: a provider fed by a secret kubeconfig."""
from __future__ import annotations

import yaml

from components.cluster.base import NodePorts
from components.versions import Versions


def _provider(result):
    [provider] = result.of_type("pulumi:providers:kubernetes")
    return provider


def test_kind_runs_the_real_cli_with_port_mappings_to_node_ports(run, base_config):
    base_config["cluster"] = {"provider": "kind", "name": "gitops-dev",
                              "kind": {"workers": 3, "argocdHostPort": 8080, "dashboardHostPort": 9000}}
    result = run(base_config)
    [command] = result.of_type("command:local:Command")
    assert "kind create cluster --name gitops-dev --config -" in command.inputs["create"]
    assert command.inputs["delete"] == "kind delete cluster --name gitops-dev"
    kind_config = yaml.safe_load(command.inputs["stdin"])
    assert command.inputs["triggers"] == [command.inputs["stdin"]]  # recreated when the config changes
    control_plane, *workers = kind_config["nodes"]
    assert len(workers) == 3 and all(w["role"] == "worker" for w in workers)
    mappings = {m["hostPort"]: m["containerPort"] for m in control_plane["extraPortMappings"]}
    # Host ports reach NodePorts (behind which the Argo CD and dashboard Services listen), not node port 8080.
    assert mappings == {8080: NodePorts().argocd, 9000: NodePorts().dashboard, 8000: NodePorts().gateway}
    assert all(node["image"] == Versions().kind_node_image for node in kind_config["nodes"])
    assert "kindest/node:v1.35.5@sha256:" in Versions().kind_node_image
    assert "*v0.32.0*" in command.inputs["create"]  # warns when the kind CLI is not the one the image is for


def test_kind_kubeconfig_is_a_secret_and_feeds_the_provider(run, base_config):
    result = run(base_config)
    [command] = result.of_type("command:local:Command")
    provider = _provider(result)
    assert "kubeconfig" in provider.secret_paths
    assert command.urn in provider.dependencies
    assert "kubeconfig" in result.secret_outputs
    assert result.outputs["clusterName"] == "gitops-test"


def test_every_kubernetes_object_uses_the_cluster_provider(run, base_config):
    result = run(base_config)
    provider = _provider(result)
    objects = result.k8s_objects()
    assert objects
    for obj in objects:
        assert obj.provider.startswith(provider.urn), obj.name


def test_eks_cluster_has_oidc_and_a_sized_managed_node_group(run, base_config):
    base_config["cluster"] = {"provider": "eks", "name": "gitops-prod",
                              "eks": {"region": "eu-west-1", "version": "1.33", "instanceType": "m6i.large",
                                      "desiredNodes": 4, "minNodes": 3, "maxNodes": 8}}
    result = run(base_config, stack="prod")
    [cluster] = result.of_type("eks:index:Cluster")
    assert cluster.inputs["createOidcProvider"] is True
    assert cluster.inputs["skipDefaultNodeGroup"] is True
    assert cluster.inputs["version"] == "1.33"
    [nodes] = result.of_type("eks:index:ManagedNodeGroup")
    assert nodes.inputs["instanceTypes"] == ["m6i.large"]
    assert nodes.inputs["scalingConfig"] == {"desiredSize": 4, "minSize": 3, "maxSize": 8}
    [aws] = result.of_type("pulumi:providers:aws")
    assert aws.inputs["region"] == "eu-west-1"
    assert "kubeconfig" in _provider(result).secret_paths


def test_existing_cluster_reads_the_users_kubeconfig_at_deploy_time(run, base_config, tmp_path):
    missing = tmp_path / "does-not-exist" / "config"
    base_config["cluster"] = {"provider": "existing", "existing": {"kubeconfig": str(missing), "context": "ctx"}}
    result = run(base_config, stack="staging")
    provider = _provider(result)
    assert provider.inputs["context"] == "ctx"
    assert provider.raw_inputs["kubeconfig"] == str(missing)  # a path the provider reads; render needs no file
    assert "kubeconfig" in provider.secret_paths
    assert not result.of_type("command:local:Command")


def test_app_namespaces_are_created_on_the_cluster(run, base_config):
    result = run(base_config)
    names = sorted(r.inputs["metadata"]["name"] for r in result.k8s_objects() if r.inputs["kind"] == "Namespace")
    assert {"book-dev", "web-dev"} <= set(names)
    assert result.outputs["namespaces"] == ["book-dev", "web-dev"]
    assert result.outputs["environment"] == "dev"


def test_invalid_config_creates_nothing(run, base_config):
    base_config["apps"][1]["namespace"] = "Book_Dev"
    result = run(base_config)
    assert result.resources == []
    assert result.errors == ["gitops-platform:apps[1].namespace: 'Book_Dev' is not a valid Kubernetes namespace "
                             "name (DNS-1123 label: lower-case letters, digits and '-', at most 63 characters, "
                             "starting and ending with a letter or digit)"]
