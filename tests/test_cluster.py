"""Each cluster flavour gives the same interface: a provider fed by a secret kubeconfig."""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.cluster.base import NodePorts
from components.versions import Versions


def run_kind_script(inputs: dict, which: str, kind_version: str = "kind v0.32.0 go1.25 linux/amd64",
                    tmp: Path | None = None) -> subprocess.CompletedProcess:
    """Run the Command's `create` or `delete` script as pulumi-command does (`sh -c`, its environment
    added, the kind config on stdin) with stub `kind` and `docker` programs that log their argv, one
    line per call, to $STUB_LOG; nothing else is on PATH but the shell's own utilities."""
    tmp = Path(tempfile.mkdtemp()) if tmp is None else tmp
    bin_dir = tmp / "stub-bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("kind", "docker"):
        (bin_dir / tool).write_text(f"""#!/bin/sh
printf '%s' {tool} >> "$STUB_LOG"; for a in "$@"; do printf ' [%s]' "$a" >> "$STUB_LOG"; done; echo >> "$STUB_LOG"
case "$1 $2" in
  "version "*) echo '{kind_version}' ;;
  "get clusters") : ;;
  "get nodes") echo node-1 ;;
  "get kubeconfig") echo 'apiVersion: v1' ;;
  "create cluster") cat > /dev/null ;;
esac
""")
        (bin_dir / tool).chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STUB_LOG": str(tmp / "calls.log"), "HOME": str(tmp),
           **(inputs.get("environment") or {})}
    done = subprocess.run(["/bin/sh", "-c", inputs[which]], input=inputs.get("stdin", ""), env=env,
                          capture_output=True, text=True, cwd=tmp, timeout=30)
    done.calls = (tmp / "calls.log").read_text().splitlines() if (tmp / "calls.log").exists() else []
    return done


def _provider(result):
    [provider] = result.of_type("pulumi:providers:kubernetes")
    return provider


def test_kind_runs_the_real_cli_with_port_mappings_to_node_ports(run, base_config):
    base_config["cluster"] = {"provider": "kind", "name": "gitops-dev",
                              "kind": {"workers": 3, "argocdHostPort": 8080, "dashboardHostPort": 9000}}
    result = run(base_config)
    [command] = result.of_type("command:local:Command")
    assert 'kind create cluster --name "$KIND_CLUSTER" --config -' in command.inputs["create"]
    assert command.inputs["delete"] == 'kind delete cluster --name "$KIND_CLUSTER"'
    assert command.inputs["environment"] == {"KIND_CLUSTER": "gitops-dev", "KIND_NODE_IMAGE": Versions().kind_node_image,
                                             "KIND_RELEASE": "v0.32.0"}
    kind_config = yaml.safe_load(command.inputs["stdin"])
    assert command.inputs["triggers"] == [command.inputs["stdin"]]  # recreated when the config changes
    control_plane, *workers = kind_config["nodes"]
    assert len(workers) == 3 and all(w["role"] == "worker" for w in workers)
    mappings = {m["hostPort"]: m["containerPort"] for m in control_plane["extraPortMappings"]}
    # Host ports reach NodePorts (behind which the Argo CD and dashboard Services listen), not node port 8080.
    assert mappings == {8080: NodePorts().argocd, 9000: NodePorts().dashboard, 8000: NodePorts().gateway}
    assert all(node["image"] == Versions().kind_node_image for node in kind_config["nodes"])
    assert "kindest/node:v1.35.5@sha256:" in Versions().kind_node_image
    # warns when the kind CLI is not the one the image is for
    ran = run_kind_script(command.inputs, "create", kind_version="kind v0.31.0 go1.25 linux/amd64")
    assert "warning: the node image kindest/node:v1.35.5@sha256:" in ran.stderr and "built for kind v0.32.0" in ran.stderr
    assert "warning" not in run_kind_script(command.inputs, "create").stderr


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


def eks_config(base_config, **eks):
    base_config["cluster"] = {"provider": "eks", "name": "gitops-prod", "eks": {"region": "eu-west-1", **eks}}
    return base_config


def test_eks_builds_a_vpc_with_private_nodes_and_tagged_public_subnets(run, base_config):
    result = run(eks_config(base_config), stack="prod")
    [vpc] = result.of_type("awsx:ec2:Vpc")
    specs = {s["type"]: s for s in vpc.inputs["subnetSpecs"]}
    assert specs["Private"]["tags"] == {"kubernetes.io/role/internal-elb": "1"}
    assert specs["Public"]["tags"] == {"kubernetes.io/role/elb": "1"}
    assert vpc.inputs["natGateways"] == {"strategy": "Single"}
    [cluster] = result.of_type("eks:index:Cluster")
    assert cluster.inputs["vpcId"] == "vpc-0123456789abcdef0"
    assert cluster.inputs["privateSubnetIds"] == ["subnet-0000000000000000a", "subnet-0000000000000000b"]
    assert cluster.inputs["publicSubnetIds"] == ["subnet-0000000000000000c", "subnet-0000000000000000d"]
    [nodes] = result.of_type("eks:index:ManagedNodeGroup")
    assert nodes.inputs["subnetIds"] == cluster.inputs["privateSubnetIds"]
    # a Kubernetes version in standard support, the kind node image's minor
    assert cluster.inputs["version"] == "1.35"
    assert result.find("Namespace", "argocd").inputs["metadata"]["name"] == "argocd"


def test_eks_uses_the_users_vpc_and_subnets_when_named(run, base_config):
    result = run(eks_config(base_config, vpcId="vpc-0a1b2c3d4e5f67890", privateSubnetIds=["subnet-0a1b2c3d4e5f67891"],
                            publicSubnetIds=["subnet-0a1b2c3d4e5f67892"]), stack="prod")
    assert result.errors == []
    assert not result.of_type("awsx:ec2:Vpc")
    [cluster] = result.of_type("eks:index:Cluster")
    assert (cluster.inputs["vpcId"], cluster.inputs["privateSubnetIds"], cluster.inputs["publicSubnetIds"]) == \
        ("vpc-0a1b2c3d4e5f67890", ["subnet-0a1b2c3d4e5f67891"], ["subnet-0a1b2c3d4e5f67892"])


def test_eks_access_entries_make_a_preview_role_a_reader_and_nothing_more(run, base_config):
    result = run(eks_config(base_config), stack="prod")
    [cluster] = result.of_type("eks:index:Cluster")
    assert cluster.inputs["authenticationMode"] == "API"
    assert "accessEntries" not in cluster.inputs or not cluster.inputs["accessEntries"]
    assert "instanceRoles" not in cluster.inputs    # refused in API mode; EKS makes the node group's entry
    role = "arn:aws:iam::123456789012:role/ci-preview"
    [cluster] = run(eks_config(base_config, previewRoleArn=role), stack="prod").of_type("eks:index:Cluster")
    assert cluster.inputs["accessEntries"] == {"preview": {
        "principalArn": role,
        "accessPolicies": {"view": {"policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
                                    "accessScope": {"type": "cluster"}}}}}


def test_eks_workspace_claims_bind_through_the_ebs_csi_driver_and_a_default_gp3_class(run, base_config):
    result = run(eks_config(base_config), stack="prod")
    [addon] = result.of_type("eks:index:Addon")
    assert addon.inputs["addonName"] == "aws-ebs-csi-driver"
    roles = {r.name: r for r in result.of_type("aws:iam/role:Role")}
    ebs_role = roles["gitops-cluster-ebs-csi-role"]
    trust = json.loads(ebs_role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Principal"]["Federated"].startswith("arn:aws:iam::") and ":oidc-provider/" in trust["Principal"]["Federated"]
    issuer = "oidc.eks.mock.amazonaws.com/id/MOCK"
    assert trust["Condition"]["StringEquals"] == {
        f"{issuer}:sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa", f"{issuer}:aud": "sts.amazonaws.com"}
    [attachment] = [r for r in result.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                    if r.name == "gitops-cluster-ebs-csi-policy"]
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    by_urn = result.by_urn()
    assert {by_urn[u].type for u in addon.dependencies} >= {"eks:index:ManagedNodeGroup",
                                                            "aws:iam/rolePolicyAttachment:RolePolicyAttachment"}
    [sc] = [r for r in result.k8s_objects() if r.inputs["kind"] == "StorageClass"]
    assert sc.inputs["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert sc.inputs["provisioner"] == "ebs.csi.aws.com" and sc.inputs["parameters"]["type"] == "gp3"
    assert sc.inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    assert addon.urn in sc.dependencies
    # the Tekton workspace claims use the default class (or tekton.storageClass)
    template = result.find("TriggerTemplate", "gitops-ci-run", "gitops-ci").inputs["spec"]["resourcetemplates"][0]
    claim = template["spec"]["workspaces"][0]["volumeClaimTemplate"]["spec"]
    assert "storageClassName" not in claim


def test_kind_and_existing_clusters_get_no_storage_class_of_the_platforms(run, base_config):
    for provider in ("kind", "existing"):
        base_config["cluster"] = {"provider": provider}
        assert not [r for r in run(base_config).k8s_objects() if r.inputs["kind"] == "StorageClass"]


@pytest.mark.parametrize("eks, line", [
    ({"vpcId": "vpc-0a1b2c3d4e5f67890"},
     "gitops-platform:cluster.eks.privateSubnetIds: and publicSubnetIds are both needed with vpcId (nodes go in the "
     "private subnets, the Gateway's load balancer in the public ones)"),
    ({"privateSubnetIds": ["subnet-0a1b2c3d4e5f67891"]},
     "gitops-platform:cluster.eks.vpcId: is needed with subnet ids (they belong to a VPC)"),
    ({"vpcId": "vpc-1"}, "gitops-platform:cluster.eks.vpcId: 'vpc-1' is not a VPC id like vpc-0a1b2c3d4e5f67890"),
    ({"previewRoleArn": "ci-preview"},
     "gitops-platform:cluster.eks.previewRoleArn: 'ci-preview' is not an IAM role or user ARN like "
     "arn:aws:iam::123456789012:role/ci-preview"),
])
def test_bad_eks_network_and_access_settings_are_config_errors(run, base_config, eks, line):
    assert run(eks_config(base_config, **eks), stack="prod").errors == [line]


# ---------------------------------------------------------------- nothing from config reaches a shell
# Shell syntax of every kind: command substitution, expansions, separators, redirections, quotes, globs.
HOSTILE = ["$(touch PWNED)", "`touch PWNED`", "${IFS}", "$((1))", ";touch PWNED", "&&touch PWNED", "|touch PWNED",
           ">PWNED", "<PWNED", "'", '"', "\\", "*", "?", "[a]", "~", "#", "\n", " ", "&", "!", "{a,b}", "%s", "-"]
# The config strings that reach the kind Command: the cluster name, the node image, the kind release.
PLACES = {
    "cluster.name": lambda cfg, v: cfg["cluster"].__setitem__("name", v),
    "versions.kindNodeImage": lambda cfg, v: cfg.setdefault("versions", {}).__setitem__(
        "kindNodeImage", "kindest/node:v1.35.5" + v + "@sha256:" + "a" * 64),
    "versions.kindNodeImage name": lambda cfg, v: cfg.setdefault("versions", {}).__setitem__(
        "kindNodeImage", "kindest/node" + v + ":v1.35.5@sha256:" + "a" * 64),
    "versions.kindVersion": lambda cfg, v: cfg.setdefault("versions", {}).__setitem__("kindVersion", "v0.32.0" + v),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(place=st.sampled_from(sorted(PLACES)), payload=st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=3),
       prefix=st.sampled_from(["", "a", "gitops-"]))
def test_shell_metacharacters_in_config_never_run_anything(run, base_config, place, payload, prefix):
    """Each value either is refused by its grammar, or reaches the kind scripts as one argument: the
    scripts, run with stub kind and docker, call nothing else and create no file."""
    config = json.loads(json.dumps(base_config))
    config["cluster"] = {"provider": "kind", "name": "gitops-dev"}
    del config["configRepo"]
    del config["apps"]   # the embedded flavour: its registry adds the docker exec part
    PLACES[place](config, prefix + "".join(payload))
    result = run(config, secrets={})
    commands = result.of_type("command:local:Command")
    if result.errors:
        key = place.split(" ")[0]
        assert commands == [] and any(e.startswith(f"gitops-platform:{key}: ") for e in result.errors), result.errors
        return
    [command] = commands
    for which in ("create", "delete"):
        tmp = Path(tempfile.mkdtemp())
        ran = run_kind_script(command.inputs, which, tmp=tmp)
        assert ran.returncode == 0, ran.stderr
        assert sorted(p.name for p in tmp.iterdir()) == ["calls.log", "stub-bin"]
        assert all(call.split(" ", 1)[0] in ("kind", "docker") for call in ran.calls), ran.calls
        name = command.inputs["environment"]["KIND_CLUSTER"]
        if which == "create":
            assert f"kind [create] [cluster] [--name] [{name}] [--config] [-] [--wait] [180s]" in ran.calls
        else:
            assert ran.calls == [f"kind [delete] [cluster] [--name] [{name}]"]


def test_the_emitted_create_script_creates_configures_and_prints_the_kubeconfig(run, base_config):
    config = {k: v for k, v in base_config.items() if k not in ("configRepo", "apps", "registry")}
    config["cluster"] = {"provider": "kind", "name": "gitops-dev"}
    [command] = run(config, secrets={}).of_type("command:local:Command")
    ran = run_kind_script(command.inputs, "create")
    assert ran.returncode == 0 and ran.stdout == "apiVersion: v1\n"   # stdout is the kubeconfig only
    assert ran.calls[:3] == ["kind [version]", "kind [get] [clusters]",
                             "kind [create] [cluster] [--name] [gitops-dev] [--config] [-] [--wait] [180s]"]
    assert "docker [exec] [node-1] [mkdir] [-p] [/etc/containerd/certs.d/registry.registry.svc.cluster.local:5000]" \
        in ran.calls
    assert ran.calls[-1] == "kind [get] [kubeconfig] [--name] [gitops-dev]"
