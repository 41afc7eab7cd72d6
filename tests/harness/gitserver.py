"""A real git server on 127.0.0.1 for the step-script tests: bare repositories served over smart HTTP
by `git http-backend` (the CGI program git ships), behind HTTP Basic auth, the way GitHub or Gitea
serve them to a pipeline.

    with GitServer(tmp_path, users={"ci-bot": "token"}) as server:
        url = server.create_repo("org/config.git")          # http://127.0.0.1:PORT/org/config.git
        server.before_push = lambda repo: ...                # runs once before the next push is received

`before_push` lets a test move the remote branch between the moment a step fetched it and the moment
it pushes, which is exactly the race two pipelines have on a real server.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

GIT = shutil.which("git")
AUTHOR = {"GIT_AUTHOR_NAME": "Developer", "GIT_AUTHOR_EMAIL": "dev@example.com",
          "GIT_COMMITTER_NAME": "Developer", "GIT_COMMITTER_EMAIL": "dev@example.com"}


def git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, check: bool = True,
        ) -> subprocess.CompletedProcess:
    """Run the real git with a clean, predictable environment (no user or system config)."""
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd or "/tmp"),
                "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", **AUTHOR, **(env or {})}
    done = subprocess.run([GIT, *args], cwd=cwd, env=full_env, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr}")
    return done


class GitServer:
    """Bare repos under `root`, served at http://127.0.0.1:<port>/<path> with Basic auth."""

    def __init__(self, root: Path, users: dict[str, str], readers: set[str] | None = None):
        self.root = Path(root) / "srv"
        self.root.mkdir(parents=True, exist_ok=True)
        self.users = dict(users)
        self.readers = set(readers or ())   # users who may clone but not push (a token without write access)
        self.before_push: Callable[[Path], None] | None = None
        # "advertise": the hook runs when the client asks what the remote has (it then sees the moved
        # branch and refuses a non-fast-forward itself: "rejected (fetch first)"); "receive": it runs
        # after the client sent its pack (the server then cannot lock the ref: "remote rejected").
        self.race_at = "advertise"
        self.requests: list[tuple[str, str, str | None]] = []   # (method, path, user or None)
        self.pushes: list[str] = []                              # repo paths that received a push
        self._server: ThreadingHTTPServer | None = None
        # Requests under /api/ go here when set (a Gitea API stand-in on the same host, as Gitea serves both):
        # api(method, path, user or None, body) -> (status, JSON value or None).
        self.api: Callable[[str, str, str | None, bytes], tuple[int, object]] | None = None

    # ---- repositories
    def create_repo(self, path: str, files: dict[str, str] | None = None, branch: str = "main") -> str:
        """A bare repo at `path` with one commit of `files` on `branch`; returns its clone URL."""
        bare = self.root / path
        git("init", "--bare", "--initial-branch", branch, str(bare))
        git("config", "http.receivepack", "true", cwd=bare)
        if files:
            self.commit(path, files, "initial commit", branch=branch)
        return self.url(path)

    def url(self, path: str, user: str | None = None, password: str | None = None) -> str:
        auth = f"{user}:{password}@" if user else ""
        return f"http://{auth}127.0.0.1:{self.port}/{path}"

    def bare(self, path: str) -> Path:
        return self.root / path

    def commit(self, path: str, files: dict[str, str | None], message: str, branch: str = "main",
               author: dict[str, str] | None = None) -> str:
        """Commit `files` (None deletes a file) on `branch` directly into the bare repo, as another
        developer or pipeline would, and return the new commit SHA."""
        work = self.root.parent / f"work-{abs(hash((path, message, branch)))}"
        shutil.rmtree(work, ignore_errors=True)
        bare = self.bare(path)
        has_branch = git("rev-parse", "--verify", "-q", f"refs/heads/{branch}", cwd=bare, check=False).returncode == 0
        if has_branch:
            git("clone", "-q", "--branch", branch, str(bare), str(work))
        else:
            git("init", "-q", "--initial-branch", branch, str(work))
        for name, content in files.items():
            target = work / name
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        git("add", "-A", cwd=work)
        env = {**AUTHOR, **(author or {})}
        git("commit", "-q", "-m", message, cwd=work, env=env)
        git("push", "-q", str(bare), f"HEAD:refs/heads/{branch}", cwd=work)
        sha = git("rev-parse", "HEAD", cwd=work).stdout.strip()
        shutil.rmtree(work)
        return sha

    def head(self, path: str, branch: str = "main") -> str | None:
        done = git("rev-parse", "--verify", "-q", f"refs/heads/{branch}", cwd=self.bare(path), check=False)
        return done.stdout.strip() or None

    def show(self, path: str, ref: str, file: str) -> str:
        return git("show", f"{ref}:{file}", cwd=self.bare(path)).stdout

    def log(self, path: str, ref: str = "main", fmt: str = "%H%n%an <%ae>%n%B%n--") -> str:
        return git("log", f"--format={fmt}", ref, cwd=self.bare(path)).stdout

    # ---- HTTP
    @property
    def port(self) -> int:
        assert self._server is not None, "start the server first (use it as a context manager)"
        return self._server.server_address[1]

    def __enter__(self) -> GitServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def _user(self) -> str | None:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return None
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                return user if server.users.get(user) == password else None

            def _serve(self):
                user = self._user()
                parts = urlsplit(self.path)
                server.requests.append((self.command, parts.path, user))
                if server.api is not None and parts.path.startswith("/api/"):
                    length = int(self.headers.get("Content-Length") or 0)
                    status, value = server.api(self.command, parts.path, user,
                                               self.rfile.read(length) if length else b"")
                    data = b"" if value is None else json.dumps(value).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if user is None:
                    # What GitHub and Gitea answer a clone or push without valid credentials.
                    body = b"Authentication required\n"
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                advertise = parts.path.endswith("/info/refs") and parts.query == "service=git-receive-pack"
                receive = parts.path.endswith("/git-receive-pack") and self.command == "POST"
                if (advertise or receive) and user in server.readers:
                    # GitHub's answer to a push with a read-only token.
                    body = f"Permission to {parts.path.split('/info/')[0].lstrip('/')} denied to {user}.\n".encode()
                    self.send_response(403)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if (advertise and server.race_at == "advertise") or (receive and server.race_at == "receive"):
                    repo = parts.path.rsplit("/", 2 if advertise else 1)[0].lstrip("/")
                    hook, server.before_push = server.before_push, None
                    if hook is not None:
                        hook(server.bare(repo))
                if receive:
                    server.pushes.append(parts.path[: -len("/git-receive-pack")].lstrip("/"))
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "GIT_PROJECT_ROOT": str(server.root), "GIT_HTTP_EXPORT_ALL": "1",
                    "PATH_INFO": parts.path, "QUERY_STRING": parts.query, "REQUEST_METHOD": self.command,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_USER": user, "REMOTE_ADDR": "127.0.0.1", "GIT_CONFIG_NOSYSTEM": "1",
                    "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                }
                if self.headers.get("Content-Encoding"):
                    env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
                done = subprocess.run([GIT, "http-backend"], input=body, env=env, capture_output=True)
                head, _, payload = done.stdout.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.split(b"\r\n"):
                    if not line:
                        continue
                    key, _, value = line.decode().partition(":")
                    if key.lower() == "status":
                        status = int(value.strip().split()[0])
                    else:
                        headers.append((key, value.strip()))
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
