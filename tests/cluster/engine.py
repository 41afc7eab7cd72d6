"""The real Pulumi engine for the cluster test: the CLI and the Kubernetes provider from the toolchain, a local
file backend, the program served by tools/langhost.py, and an HTTPS mirror of ../shared/mirror.

Everything is started on 127.0.0.1 and removed at the end; nothing is downloaded (plugin acquisition is off and
the only provider is the one on PATH).
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.cluster.apiserver import _openssl, free_port

REPO = Path(__file__).resolve().parents[2]


class Mirror:
    """../shared/mirror over HTTPS with a throw-away CA: `url`, `ca` (the CA bundle file), `requests`."""

    def __init__(self, directory: Path):
        self.root = Path(tempfile.mkdtemp(prefix="gitops-mirror-"))
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
                 "-subj", "/CN=gitops-test-mirror-ca", cwd=self.root)
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.csr",
                 "-subj", "/CN=127.0.0.1", cwd=self.root)
        (self.root / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", "tls.crt", "-days", "2", "-extfile", "ext.cnf", cwd=self.root)
        self.ca = self.root / "ca.crt"
        self.requests: list[str] = []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                mirror.requests.append(self.path)

        port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                                      functools.partial(Handler, directory=str(directory)))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.root / "tls.crt", self.root / "tls.key")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.root, ignore_errors=True)


class Engine:
    """`pulumi` with a file backend in a temporary project directory holding Pulumi.yaml and the stack file."""

    def __init__(self, cli: str, provider: str, stack: str, extra_env: dict[str, str] | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="gitops-pulumi-"))
        self.project = self.root / "project"
        self.project.mkdir()
        shutil.copy(REPO / "Pulumi.yaml", self.project / "Pulumi.yaml")
        (self.root / "state").mkdir()
        plugins = self.root / "bin"
        plugins.mkdir()
        # The provider as an ambient plugin: the engine uses a pulumi-resource-<name> on PATH for every version
        # the SDK asks for (pulumi/pulumi@v3.274.0:sdk/go/common/workspace/plugins.go, ambient plugins).
        (plugins / "pulumi-resource-kubernetes").symlink_to(provider)
        self.cli = cli
        self.stack = stack
        self.env = {
            "PATH": f"{plugins}{os.pathsep}{Path(cli).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(self.root), "PULUMI_HOME": str(self.root / "home"),
            "PULUMI_BACKEND_URL": f"file://{self.root / 'state'}", "PULUMI_CONFIG_PASSPHRASE": "cluster-test",
            "PULUMI_SKIP_UPDATE_CHECK": "true", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_SKIP_CONFIRMATIONS": "true", "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
            **(extra_env or {})}
        self.timings: dict[str, float] = {}
        self.windows: dict[str, tuple[float, float]] = {}   # step -> (start, end), epoch seconds

    def run(self, *args: str, program: bool = False, check: bool = True, timeout: float = 1800,
            step: str | None = None) -> subprocess.CompletedProcess:
        """`pulumi <args>`; with program=True a fresh tools/langhost.py serves __main__.py for this command."""
        host = None
        command = [self.cli, *args, "--non-interactive", "--stack", self.stack] if args[0] not in (
            "login", "version", "plugin") else [self.cli, *args]
        if program:
            host = subprocess.Popen([sys.executable, "-m", "tools.langhost", "--project", str(REPO)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
                                    env={**os.environ, **self.env, "PATH": os.environ.get("PATH", "")})
            address = host.stdout.readline().strip()
            assert address.startswith("127.0.0.1:"), f"the language host did not start: {address!r}"
            command.append(f"--client={address}")
        started, wall = time.monotonic(), time.time()
        try:
            done = subprocess.run(command, cwd=self.project, env=self.env, capture_output=True, text=True,
                                  timeout=timeout)
        finally:
            if host is not None:
                host.stdin.close()
                try:
                    host.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    host.kill()
        if step:
            self.timings[step] = round(time.monotonic() - started, 1)
            self.windows[step] = (wall, time.time())
        if check and done.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} exited {done.returncode}:\n"
                                 f"{done.stdout[-8000:]}\n{done.stderr[-4000:]}")
        return done

    def configure(self, config: dict, secrets: dict[str, str] | None = None) -> None:
        """Write the stack's plain config into Pulumi.<stack>.yaml (keeping what `stack init` wrote: the
        passphrase salt) and set each secret with `pulumi config set --secret`, as a user does."""
        import yaml
        path = self.project / f"Pulumi.{self.stack}.yaml"
        current = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
        kept = {k: v for k, v in (current.get("config") or {}).items() if isinstance(v, dict) and "secure" in v}
        current["config"] = {**{f"gitops-platform:{k}": v for k, v in config.items()}, **kept}
        path.write_text(yaml.safe_dump(current, sort_keys=False))
        for key, value in (secrets or {}).items():
            self.run("config", "set", "--secret", f"gitops-platform:{key}", value)

    def resources(self) -> list[dict]:
        exported = json.loads(self.run("stack", "export").stdout)
        return exported["deployment"].get("resources", [])

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
