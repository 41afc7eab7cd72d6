"""A real Kubernetes control plane on 127.0.0.1 for tests: etcd and kube-apiserver from the toolchain
(`python -m tools.toolchain --group cluster`), like controller-runtime's envtest.

- Random free ports, a throw-away CA (openssl) with a serving certificate for 127.0.0.1 and an admin client
  certificate (O=system:masters), a kubeconfig, a ServiceAccount signing key.
- RBAC authorization (the real authorizer answers `kubectl auth can-i`), the default admission plugins.
- An audit log of every request at Metadata level, so a test can count API requests by verb and user.
- Bounded start-up (each process must be ready within its timeout, else its log is in the error) and
  everything stopped and removed on close.

Optionally kube-controller-manager with only the controllers asked for (default: ClusterRole aggregation).
No kubelet, no scheduler here: nothing runs pods. (kwok and the other controllers come with the Pulumi cluster
test, issue 19.)
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from contextlib import suppress
from pathlib import Path

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
"""


class StartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise StartError(f"openssl {' '.join(args[:2])} failed: {done.stderr[-2000:]}")


def make_certs(pki: Path) -> None:
    pki.mkdir(parents=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
             "-subj", "/CN=gitops-test-ca", cwd=pki)
    (pki / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n"
                                    "extendedKeyUsage=serverAuth\n")
    (pki / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, subject, ext in (("server", "/CN=kube-apiserver", "server.ext"),
                               ("admin", "/O=system:masters/CN=gitops-test-admin", "client.ext")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", subject, cwd=pki)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "1", "-extfile", ext, cwd=pki)
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


# The one simulated node (kwok manages nodes labelled type=kwok): big enough for every platform pod.
NODE = {"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "kwok-node-0", "labels": {"type": "kwok", "kubernetes.io/os": "linux",
                                                       "kubernetes.io/arch": "amd64", "kubernetes.io/hostname":
                                                           "kwok-node-0"},
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"}},
        "spec": {},
        "status": {"allocatable": {"cpu": "64", "memory": "256Gi", "pods": "500"},
                   "capacity": {"cpu": "64", "memory": "256Gi", "pods": "500"}}}


def kwok_stages() -> list[Path]:
    """kwok's own Stage files from the module the toolchain built it from (the Go module cache)."""
    from components.toolchain import Pins
    from tools.toolchain import cache_root, go_env
    root = Path(go_env(cache_root())["GOMODCACHE"]) / f"sigs.k8s.io/kwok@{Pins.kwok}/kustomize/stage"
    files = [f for d in ("node/fast", "node/heartbeat", "pod/fast") for f in sorted((root / d).glob("*.yaml"))
             if f.name != "kustomization.yaml"]
    if not files:
        raise StartError(f"kwok's Stage files are not in {root}: build kwok with python -m tools.toolchain")
    return files


class ControlPlane:
    """etcd + kube-apiserver. `kubeconfig`, `kubectl(...)`, `audit()`, `close()`."""

    def __init__(self, etcd: str, apiserver: str, kubectl: str, controller_manager: str | None = None,
                 controllers: str = "clusterrole-aggregation", timeout: float = 90.0,
                 scheduler: str | None = None, kwok: str | None = None, kwok_stages: list[Path] | None = None,
                 webhooks: bool = True):
        self.controller_manager = controller_manager
        self.controllers = controllers
        self.scheduler, self.kwok, self.kwok_stages, self.webhooks = scheduler, kwok, kwok_stages or [], webhooks
        self.root = Path(tempfile.mkdtemp(prefix="gitops-apiserver-"))
        self.kubectl_bin = kubectl
        self.processes: list[tuple[str, subprocess.Popen, Path]] = []
        try:
            self._start(etcd, apiserver, timeout)
        except BaseException:
            self.close()
            raise

    def _spawn(self, name: str, args: list[str]) -> None:
        log = self.root / f"{name}.log"
        handle = log.open("wb")
        process = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        handle.close()
        self.processes.append((name, process, log))

    def _wait(self, name: str, ready, timeout: float) -> None:
        _, process, log = next(p for p in self.processes if p[0] == name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StartError(f"{name} exited with {process.returncode}:\n{log.read_text()[-4000:]}")
            with suppress(Exception):
                if ready():
                    return
            time.sleep(0.3)
        raise StartError(f"{name} was not ready within {timeout:.0f} s:\n{log.read_text()[-4000:]}")

    def _start(self, etcd: str, apiserver: str, timeout: float) -> None:
        pki = self.root / "pki"
        make_certs(pki)
        client, peer, secure = free_port(), free_port(), free_port()
        self._spawn("etcd", [etcd, "--data-dir", str(self.root / "etcd"), "--name", "test",
                             "--listen-client-urls", f"http://127.0.0.1:{client}",
                             "--advertise-client-urls", f"http://127.0.0.1:{client}",
                             "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                             "--initial-cluster", f"test=http://127.0.0.1:{peer}",
                             "--unsafe-no-fsync", "--log-level", "warn"])
        self._wait("etcd", lambda: urllib.request.urlopen(f"http://127.0.0.1:{client}/health", timeout=2).status == 200,
                   timeout)
        (self.root / "audit-policy.yaml").write_text(AUDIT_POLICY)
        self.audit_log = self.root / "audit.log"
        self._spawn("kube-apiserver", [
            apiserver, "--etcd-servers", f"http://127.0.0.1:{client}", "--bind-address", "127.0.0.1",
            "--advertise-address", "127.0.0.1", "--secure-port", str(secure),
            "--tls-cert-file", str(pki / "server.crt"), "--tls-private-key-file", str(pki / "server.key"),
            "--client-ca-file", str(pki / "ca.crt"), "--authorization-mode", "RBAC",
            "--service-account-issuer", "https://kubernetes.default.svc",
            "--service-account-key-file", str(pki / "sa.pub"),
            "--service-account-signing-key-file", str(pki / "sa.key"),
            "--service-cluster-ip-range", "10.96.0.0/16", "--allow-privileged",
            "--audit-policy-file", str(self.root / "audit-policy.yaml"), "--audit-log-path", str(self.audit_log),
            "--audit-log-format", "json", "--audit-log-mode", "blocking", "--v", "1",
            # Third-party admission webhooks have no process behind them here: with webhooks=False the
            # fixture (never the program) turns webhook admission off, so their configurations are created
            # like any object but never called. Which ones that leaves untested: tests/cluster/README.md.
            *([] if self.webhooks else
              ["--disable-admission-plugins", "MutatingAdmissionWebhook,ValidatingAdmissionWebhook"])])
        self.server = f"https://127.0.0.1:{secure}"
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        self.context = context
        self._wait("kube-apiserver", lambda: urllib.request.urlopen(
            f"{self.server}/readyz", timeout=2, context=context).read() == b"ok", timeout)
        self.kubeconfig = self.root / "kubeconfig"
        self.kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {"server": self.server,
                                                       "certificate-authority": str(pki / "ca.crt")}}],
            "users": [{"name": "admin", "user": {"client-certificate": str(pki / "admin.crt"),
                                                 "client-key": str(pki / "admin.key")}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}]}))
        # The default namespace and the bootstrap RBAC roles (admin, edit, view, ...) are written by the API
        # server's own post-start hooks: wait for the aggregated `admin` role before anything binds it.
        self._wait("kube-apiserver", lambda: self.kubectl("get", "clusterrole", "admin", check=False).returncode == 0,
                   timeout)
        if self.controller_manager:
            # Only the controllers asked for (default: the ClusterRole aggregation, which fills aggregated roles
            # such as admin and the platform's deployer role); no serving port, no leader election.
            self._spawn("kube-controller-manager", [
                self.controller_manager, "--kubeconfig", str(self.kubeconfig), "--controllers", self.controllers,
                "--leader-elect=false", "--secure-port", "0", "--use-service-account-credentials=false",
                "--service-account-private-key-file", str(pki / "sa.key"), "--root-ca-file", str(pki / "ca.crt"),
                "--v", "1"])
            self._wait("kube-controller-manager", lambda: json.loads(self.kubectl(
                "get", "clusterrole", "admin", "-o", "json").stdout).get("rules"), timeout)
        if self.scheduler:
            self._spawn("kube-scheduler", [self.scheduler, "--kubeconfig", str(self.kubeconfig),
                                           "--authentication-kubeconfig", str(self.kubeconfig),
                                           "--authorization-kubeconfig", str(self.kubeconfig),
                                           "--leader-elect=false", "--secure-port", "0", "--v", "1"])
        if self.kwok:
            # kwok plays the kubelet for the nodes it manages: its Stages (the upstream node-fast, heartbeat and
            # pod-fast sets, sigs.k8s.io/kwok@v0.8.0:kustomize/stage) make the node Ready, every pod scheduled
            # on it Running and Ready, and pods owned by a Job Succeeded, so Deployments become Available,
            # StatefulSets Ready and Jobs Complete. No container runs.
            config = self.root / "kwok.yaml"
            config.write_text("\n---\n".join(p.read_text() for p in self.kwok_stages))
            self._spawn("kwok", [self.kwok, "--kubeconfig", str(self.kubeconfig), "--config", str(config),
                                 "--manage-nodes-with-label-selector", "type=kwok", "--cidr", "10.244.0.0/16",
                                 "--node-ip", "10.0.0.2", "--server-address", ""])
            self.kubectl("apply", "-f", "-", input=json.dumps(NODE))
            self._wait("kwok", lambda: json.loads(self.kubectl("get", "node", NODE["metadata"]["name"], "-o",
                                                               "json").stdout)["status"]["conditions"] and any(
                c["type"] == "Ready" and c["status"] == "True" for c in json.loads(self.kubectl(
                    "get", "node", NODE["metadata"]["name"], "-o", "json").stdout)["status"]["conditions"]), timeout)

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 300) -> subprocess.CompletedProcess:
        done = subprocess.run([self.kubectl_bin, "--kubeconfig", str(self.kubeconfig), *args], input=input,
                              capture_output=True, text=True, timeout=timeout,
                              env={"PATH": os.environ.get("PATH", ""), "HOME": str(self.root)})
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{done.stderr[-4000:]}")
        return done

    def audit(self) -> list[dict]:
        if not self.audit_log.exists():
            return []
        return [json.loads(line) for line in self.audit_log.read_text().splitlines() if line.strip()]

    def close(self) -> None:
        for _, process, _ in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
