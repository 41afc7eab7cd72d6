"""The part of Gitea's API the seeding Job uses, on the harness git server (Gitea serves its API and git
on one host): GET /api/v1/version, GET /api/v1/repos/{owner}/{repo}, POST /api/v1/user/repos (201, or
409 when it exists), and a repo's hooks: GET, POST (201), PATCH /hooks/{id} (200). As Gitea does, the
API needs the user's credentials except for the version, and a hook's secret is never shown back."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from tests.harness.gitserver import GitServer


@dataclass
class GiteaApi:
    server: GitServer
    owner: str
    hooks: dict[str, list[dict]] = field(default_factory=dict)   # repo -> hooks (with their secrets)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, method: str, path: str, user: str | None, body: bytes) -> tuple[int, object]:
        self.calls.append((method, path))
        if path == "/api/v1/version":
            return 200, {"version": "1.27.3"}
        if user is None:
            return 401, {"message": "unauthorized"}
        data = json.loads(body) if body else {}
        if method == "POST" and path == "/api/v1/user/repos":
            name = data["name"]
            if self.server.bare(f"{self.owner}/{name}.git").exists():
                return 409, {"message": "The repository with the same name already exists."}
            self.server.create_repo(f"{self.owner}/{name}.git")
            return 201, {"name": name, "clone_url": self.server.url(f"{self.owner}/{name}.git")}
        repo = re.fullmatch(rf"/api/v1/repos/{self.owner}/([^/]+)(/hooks(?:/(\d+))?)?", path)
        if repo is None:
            return 404, {"message": "not found"}
        name, hooks_path, hook_id = repo.groups()
        if not self.server.bare(f"{self.owner}/{name}.git").exists():
            return 404, {"message": "repository does not exist"}
        if hooks_path is None:
            return (200, {"name": name}) if method == "GET" else (405, None)
        hooks = self.hooks.setdefault(name, [])
        if method == "GET" and hook_id is None:
            return 200, [{**h, "config": {k: v for k, v in h["config"].items() if k != "secret"}} for h in hooks]
        if method == "POST" and hook_id is None:
            if not data.get("type") or "url" not in data.get("config", {}):
                return 422, {"message": "type and config.url are required"}
            hook = {"id": len(hooks) + 1, "type": data["type"], "config": data["config"],
                    "events": data.get("events", []), "active": bool(data.get("active", False))}
            hooks.append(hook)
            return 201, hook
        if method == "PATCH" and hook_id is not None:
            [hook] = [h for h in hooks if h["id"] == int(hook_id)] or [None]
            if hook is None:
                return 404, {"message": "hook not found"}
            hook["config"].update(data.get("config", {}))
            hook.update({k: v for k, v in data.items() if k in ("events", "active")})
            return 200, hook
        return 405, None
