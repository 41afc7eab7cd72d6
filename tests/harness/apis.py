"""HTTP stand-ins on 127.0.0.1 for what the pipelines talk to: the GitHub (or Gitea) pulls API, Argo
CD's webhook endpoint, the Kubernetes API (over TLS, with a CA the step must trust) and an OCI
registry. Each records every request, so a test asserts on what was really sent.

The answers are the ones the real servers give, with their real shapes:
- GitHub `POST /repos/{o}/{r}/pulls`: 201 with html_url; 422 {"message": "Validation Failed", "errors":
  [{"message": "A pull request already exists for o:branch."}]} (docs.github.com REST pulls: "422
  Validation failed, or the endpoint has been spammed"); "No commits between main and branch"; an
  invalid base is {"errors": [{"resource": "PullRequest", "field": "base", "code": "invalid"}]}.
- Gitea: 409 "pull request already exists for these targets [id: ..., issue_id: N, ...]"
  (go-gitea/gitea routers/api/v1/repo/pull.go).
- Argo CD `/api/webhook`: 200 once queued; 400 for a bad signature (argo-cd util/webhook/webhook.go).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


Handler = Callable[[Request], tuple[int, dict[str, str], bytes]]


class StandIn:
    """A threaded HTTP(S) server answering with `handler`, recording requests."""

    def __init__(self, handler: Handler, tls: tuple[Path, Path] | None = None):
        self.handler = handler
        self.tls = tls
        self.requests: list[Request] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> StandIn:
        stand_in = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Request(self.command, parts.path, parse_qs(parts.query),
                                  {k.lower(): v for k, v in self.headers.items()},
                                  self.rfile.read(length) if length else b"")
                stand_in.requests.append(request)
                status, headers, body = stand_in.handler(request)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_HEAD = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def json_answer(status: int, value) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(value).encode()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """(cert, key) for 127.0.0.1, made with the real openssl; the cert is its own CA."""
    openssl = shutil.which("openssl")
    if openssl is None:
        import pytest
        pytest.skip("openssl is not installed: the Kubernetes API stand-in needs a TLS certificate")
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


# ---------------------------------------------------------------- GitHub / Gitea pulls
@dataclass
class PullsApi:
    """POST /repos/{o}/{r}/pulls answers by `mode`: created, exists, no-commits, invalid-base, unauthorized."""

    mode: str = "created"
    flavor: str = "github"
    token: str = ""
    open_pulls: list[dict] = field(default_factory=list)

    def __call__(self, request: Request):
        auth = request.headers.get("authorization", "")
        expected = f"token {self.token}" if self.flavor == "gitea" else f"Bearer {self.token}"
        if auth != expected:
            return json_answer(401, {"message": "Bad credentials"})
        prefix = "/api/v1" if self.flavor == "gitea" else ""
        if request.method == "GET" and request.path.endswith("/pulls"):
            return json_answer(200, self.open_pulls)
        if request.method != "POST" or not request.path.startswith(prefix + "/repos/"):
            return json_answer(404, {"message": "Not Found"})
        body = request.json()
        if self.mode == "created":
            pull = {"number": 7, "html_url": "https://git.example/pull/7", "head": {"ref": body["head"]},
                    "base": {"ref": body["base"]}}
            self.open_pulls.append(pull)
            return json_answer(201, pull)
        if self.mode == "exists":
            if self.flavor == "gitea":
                return json_answer(409, {"message": "pull request already exists for these targets [id: 3, issue_id: "
                                                    f"3, head_repo_id: 1, base_repo_id: 1, head_branch: {body['head']}, "
                                                    f"base_branch: {body['base']}]"})
            return json_answer(422, {"message": "Validation Failed", "errors": [
                {"resource": "PullRequest", "code": "custom",
                 "message": f"A pull request already exists for org:{body['head']}."}]})
        if self.mode == "no-commits":
            return json_answer(422, {"message": "Validation Failed", "errors": [
                {"resource": "PullRequest", "code": "custom",
                 "message": f"No commits between {body['base']} and {body['head']}"}]})
        if self.mode == "invalid-base":
            return json_answer(422, {"message": "Validation Failed", "errors": [
                {"resource": "PullRequest", "field": "base", "code": "invalid"}]})
        return json_answer(500, {"message": "unexpected mode"})


# ---------------------------------------------------------------- Argo CD
@dataclass
class ArgoWebhook:
    """argocd-server's /api/webhook for GitHub events: checks X-Hub-Signature-256 as Argo CD does."""

    secret: str

    def __call__(self, request: Request):
        if request.path != "/api/webhook" or request.method != "POST":
            return 404, {}, b"not found"
        if request.headers.get("x-github-event") != "push":
            return 400, {}, b"Unknown webhook event"
        given = request.headers.get("x-hub-signature-256", "").removeprefix("sha256=")
        expected = hmac.new(self.secret.encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, expected):
            return 400, {}, b"Webhook processing failed: HMAC verification failed"
        return 200, {}, b""


@dataclass
class KubeApi:
    """GET of one Argo CD Application, answering each poll with the next of `states` (the last repeats)."""

    token: str
    states: list[dict]

    def __call__(self, request: Request):
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return json_answer(401, {"kind": "Status", "message": "Unauthorized"})
        if "/applications/" not in request.path:
            return json_answer(404, {"kind": "Status", "message": "not found"})
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return json_answer(200, state)


# ---------------------------------------------------------------- an OCI registry
class Registry:
    """The part of the OCI distribution API skopeo copy and the build stand-in use: manifests by tag or
    digest, blobs, monolithic uploads. In memory."""

    MANIFEST = "application/vnd.oci.image.manifest.v1+json"

    def __init__(self):
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[tuple[str, str], tuple[str, bytes]] = {}   # (repo, ref) -> (media type, body)
        self.lock = threading.Lock()

    @staticmethod
    def digest(data: bytes) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest()

    def push_image(self, repo: str, tag: str, content: bytes) -> str:
        """A one-layer image made of `content`; returns its manifest digest."""
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers",
                             "diff_ids": [self.digest(content)]}, "config": {}}).encode()
        self.blobs[self.digest(config)] = config
        self.blobs[self.digest(content)] = content
        manifest = json.dumps({"schemaVersion": 2, "mediaType": self.MANIFEST,
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": self.digest(config), "size": len(config)},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                           "digest": self.digest(content), "size": len(content)}]}).encode()
        digest = self.digest(manifest)
        with self.lock:
            self.manifests[(repo, tag)] = (self.MANIFEST, manifest)
            self.manifests[(repo, digest)] = (self.MANIFEST, manifest)
        return digest

    def __call__(self, request: Request):
        path = request.path
        if path in ("/v2", "/v2/"):
            return 200, {"Docker-Distribution-API-Version": "registry/2.0"}, b"{}"
        if "/manifests/" in path:
            repo, ref = path[4:].split("/manifests/")
            if request.method == "PUT":
                digest = self.digest(request.body)
                media = request.headers.get("content-type", self.MANIFEST)
                with self.lock:
                    self.manifests[(repo, ref)] = (media, request.body)
                    self.manifests[(repo, digest)] = (media, request.body)
                return 201, {"Docker-Content-Digest": digest, "Location": path}, b""
            found = self.manifests.get((repo, ref))
            if found is None:
                return json_answer(404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]})
            media, body = found
            return 200, {"Content-Type": media, "Docker-Content-Digest": self.digest(body)}, body
        if "/blobs/uploads/" in path:
            if request.method == "POST":
                return 202, {"Location": path + "upload-1", "Range": "0-0", "Docker-Upload-UUID": "upload-1"}, b""
            data = request.body
            digest = request.query.get("digest", [self.digest(data)])[0]
            self.blobs[digest] = data
            return 201, {"Docker-Content-Digest": digest}, b""
        if "/blobs/" in path:
            digest = path.rsplit("/", 1)[1]
            if digest not in self.blobs:
                return json_answer(404, {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown"}]})
            return 200, {"Docker-Content-Digest": digest}, self.blobs[digest]
        return json_answer(404, {"errors": [{"code": "NAME_UNKNOWN"}]})
