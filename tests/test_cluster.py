"""Each cluster flavour gives the same interface: a provider fed by a secret kubeconfig."""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
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
# Values the grammars accept, so the scripts really run with them (a random draw may pick none of these).
@example(place="versions.kindNodeImage", payload=["-"], prefix="")
def test_shell_metacharacters_in_config_never_run_anything(run, base_config, place, payload, prefix):
    """Each value either is refused by its grammar, or reaches the kind scripts as one argument: the
    scripts, run with stub kind and docker, call nothing else and create no file."""
    config = json.loads(json.dumps(base_config))
    config["cluster"] = {"provider": "kind", "name": "gitops-dev"}
    del config["configRepo"]
    del config["apps"]   # the embedded flavour: its registry adds the docker exec part
    del config["registry"]   # (an outside registry with the embedded example app is a config error of its own)
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
    # The preview's read of the live cluster gets the same name the same way.
    from components.cluster.kind import LIVE_CLUSTER
    tmp = Path(tempfile.mkdtemp())
    ran = run_kind_script({"create": LIVE_CLUSTER, "environment": {"KIND_CLUSTER": name}}, "create", tmp=tmp)
    assert ran.returncode == 0 and sorted(p.name for p in tmp.iterdir()) == ["calls.log", "stub-bin"]
    assert all(call.split(" ", 1)[0] in ("kind", "docker") for call in ran.calls), ran.calls


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


# ---------------------------------------------------------------- a kind config change replaces the cluster
LIVE = """node /gitops-dev-control-plane {image}
port 30080/tcp 8080
port 30900/tcp 9000
port 6443/tcp 41231
node /gitops-dev-worker {image}
node /gitops-dev-worker2 {image}
"""


def kind_args(workers: int = 2):
    from components.cluster.base import ClusterArgs
    from components.config import ClusterConfig
    return ClusterArgs(config=ClusterConfig(provider="kind", name="gitops-dev", kind={"workers": workers}),
                       cluster_name="gitops-dev", environment="dev", kind_node_image=Versions().kind_node_image,
                       kind_version="v0.32.0")


def test_a_live_cluster_matching_the_config_is_not_reported():
    from components.cluster.kind import replacement_reasons
    assert replacement_reasons(LIVE.format(image=Versions().kind_node_image), kind_args()) == []
    assert replacement_reasons("", kind_args()) == []   # no cluster yet (or no kind/docker): nothing to say


def test_each_change_that_replaces_the_cluster_is_named():
    from components.cluster.kind import replacement_reasons
    live = LIVE.format(image="kindest/node:v1.34.0@sha256:" + "1" * 64).replace("port 30900/tcp 9000", "port 30900/tcp 9001")
    reasons = replacement_reasons(live, kind_args(workers=3))
    assert reasons == [
        "cluster.kind.workers is 3, the cluster has 2",
        f"versions.kindNodeImage is {Versions().kind_node_image}, the nodes run kindest/node:v1.34.0@sha256:{'1' * 64}",
        "the host ports are 8080->30080, 9000->30900, the cluster maps 8080->30080, 9001->30900"]


def test_the_preview_warns_before_replacing_a_live_cluster(base_config):
    from tools.mockrun import run_program
    base_config["cluster"] = {"provider": "kind", "name": "gitops-dev", "kind": {"workers": 3}}
    live = {"command:local:run": {"stdout": LIVE.format(image=Versions().kind_node_image)}}
    previewed = run_program("dev", base_config, {"gitToken": "t", "registryPassword": "p"}, preview=True, calls=live)
    assert previewed.errors == []
    [warning] = [w for w in previewed.warnings if "will be deleted and created again" in w]
    assert "'gitops-dev'" in warning and "cluster.kind.workers is 3, the cluster has 2" in warning
    # The update itself does not read the cluster again (the preview before it did).
    updated = run_program("dev", base_config, {"gitToken": "t", "registryPassword": "p"}, calls=live)
    assert not [w for w in updated.warnings if "will be deleted" in w]


def test_the_live_cluster_script_reads_nodes_with_docker_and_runs_nothing_from_the_name():
    from components.cluster.kind import LIVE_CLUSTER
    tmp = Path(tempfile.mkdtemp())
    name = 'x"; touch pwned; $(touch pwned2) `touch pwned3`'
    ran = run_kind_script({"create": LIVE_CLUSTER, "environment": {"KIND_CLUSTER": name}}, "create", tmp=tmp)
    assert ran.returncode == 0
    assert sorted(p.name for p in tmp.iterdir()) == ["calls.log", "stub-bin"]
    template = ('node {{.Name}} {{.Config.Image}}{{"\\n"}}{{range $p, $b := .HostConfig.PortBindings}}'
                '{{range $b}}port {{$p}} {{.HostPort}}{{"\\n"}}{{end}}{{end}}')
    assert ran.calls == [f"kind [get] [nodes] [--name] [{name}]", f"docker [inspect] [-f] [{template}] [node-1]"]


def test_the_live_cluster_template_is_valid_go_template_over_dockers_inspect_shape(tmp_path):
    """docker inspect -f executes a Go text/template over the container's inspect data; run the
    script's template with Go's own text/template over that shape (Name, Config.Image and
    HostConfig.PortBindings as map[port][]{HostIp, HostPort}, moby api/types/container, go-connections nat)."""
    import re
    import shutil

    from components.cluster.kind import LIVE_CLUSTER, replacement_reasons
    go = shutil.which("go")
    if go is None:
        pytest.skip("go is not on PATH (the toolchain needs Go 1.26)")
    template = re.search(r"-f '([^']*)'", LIVE_CLUSTER).group(1)
    (tmp_path / "main.go").write_text(f"""package main
import ("os"; "text/template")
type PortBinding struct {{ HostIP string `json:"HostIp"`; HostPort string }}
type Inspect struct {{ Name string; Config struct {{ Image string }}; HostConfig struct {{ PortBindings map[string][]PortBinding }} }}
func main() {{
	var c Inspect
	c.Name = "/gitops-dev-control-plane"
	c.Config.Image = os.Args[1]
	c.HostConfig.PortBindings = map[string][]PortBinding{{
		"30080/tcp": {{{{HostIP: "127.0.0.1", HostPort: "8080"}}}}, "30900/tcp": {{{{HostIP: "127.0.0.1", HostPort: "9000"}}}},
		"6443/tcp": {{{{HostIP: "127.0.0.1", HostPort: "40111"}}}}}}
	t := template.Must(template.New("f").Parse({json.dumps(template)}))
	if err := t.Execute(os.Stdout, c); err != nil {{ panic(err) }}
	os.Stdout.WriteString("node /gitops-dev-worker " + os.Args[1] + "\\nnode /gitops-dev-worker2 " + os.Args[1] + "\\n")
}}
""")
    done = subprocess.run([go, "run", str(tmp_path / "main.go"), Versions().kind_node_image], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:4] == [f"node /gitops-dev-control-plane {Versions().kind_node_image}",
                                            "port 30080/tcp 8080", "port 30900/tcp 9000", "port 6443/tcp 40111"]
    assert replacement_reasons(done.stdout, kind_args()) == []


@pytest.mark.parametrize("flavour", ["kind", "eks", "existing"])
def test_every_flavours_provider_gets_the_client_rate_limit_of_the_config(run, base_config, flavour):
    base_config["cluster"] = {"provider": flavour, **({"eks": {"region": "us-west-2"}} if flavour == "eks" else {})}
    stack = "dev" if flavour == "kind" else "staging"
    # A provider's object inputs travel as JSON strings, which the provider decodes
    # (pulumi-kubernetes@v4.25.0:provider/pkg/provider/provider.go "kubernetes:config:kubeClientSettings").
    def sent():
        return json.loads(_provider(run(base_config, stack=stack)).inputs["kubeClientSettings"])
    assert sent() == {"qps": 100, "burst": 200}
    base_config["cluster"]["kubeClient"] = {"qps": 20, "burst": 40}
    assert sent() == {"qps": 20, "burst": 40}


def test_a_burst_below_the_rate_is_refused_naming_the_key(base_config):
    from components.config import ConfigError, load_config
    base_config["cluster"] = {"kubeClient": {"qps": 300, "burst": 100}}
    with pytest.raises(ConfigError) as refused:
        load_config(base_config, "dev")
    assert refused.value.lines == ["gitops-platform:cluster.kubeClient.burst: must be at least qps (300): "
                                   "client-go's token bucket never holds more than burst requests"]
