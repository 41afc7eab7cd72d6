"""hello: the example app the embedded dev stack builds, deploys and canaries.

A small HTTP service (Python standard library only) that serves its version on `/`, answers `/healthz`,
and exports the Prometheus histogram Flagger's built-in canary checks read at `/metrics`:
`http_request_duration_seconds_{bucket,sum,count}` with `status` and `method` labels.

To watch a rollback, set FAILURE_RATE below to 1.0 (every request to `/` answers 500), commit and push:
the canary's request-success-rate check fails and Flagger rolls the version back.
"""
from __future__ import annotations

import os
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "1"
MESSAGE = "Hello from the gitops-platform example app"
FAILURE_RATE = 0.0   # the share of requests to / that fail with 500 (0.0 to 1.0)

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    """http_request_duration_seconds, by (method, status), in the Prometheus text format."""

    def __init__(self, buckets=BUCKETS):
        self.buckets = tuple(buckets)
        self.lock = threading.Lock()
        self.series: dict[tuple[str, str], list] = {}

    def observe(self, method: str, status: int, seconds: float) -> None:
        with self.lock:
            counts, total = self.series.setdefault((method, str(status)), [[0] * len(self.buckets), [0.0, 0]])
            for i, bound in enumerate(self.buckets):
                if seconds <= bound:
                    counts[i] += 1
            total[0] += seconds
            total[1] += 1

    def render(self) -> str:
        name = "http_request_duration_seconds"
        lines = [f"# HELP {name} Duration of HTTP requests.", f"# TYPE {name} histogram"]
        with self.lock:
            for (method, status), (counts, (total, count)) in sorted(self.series.items()):
                labels = f'method="{method}",status="{status}"'
                for bound, n in zip(self.buckets, counts, strict=True):
                    lines.append(f'{name}_bucket{{{labels},le="{bound}"}} {n}')
                lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {count}')
                lines.append(f"{name}_sum{{{labels}}} {total}")
                lines.append(f"{name}_count{{{labels}}} {count}")
        return "\n".join(lines) + "\n"


METRICS = Histogram()


def failure_rate() -> float:
    return float(os.environ.get("FAILURE_RATE", FAILURE_RATE))


def respond(path: str, rate: float, roll: float) -> tuple[int, str, str]:
    """(status, content type, body) for a GET of `path`; `roll` in [0, 1) decides a failure."""
    if path == "/healthz":
        return 200, "text/plain", "ok\n"
    if path == "/metrics":
        return 200, "text/plain; version=0.0.4", METRICS.render()
    if path == "/":
        if roll < rate:
            return 500, "text/plain", f"version {VERSION} is failing on purpose (FAILURE_RATE={rate})\n"
        return 200, "text/plain", f"{MESSAGE}, version {VERSION}\n"
    return 404, "text/plain", "not found\n"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the stdlib's name)
        started = time.monotonic()
        status, content_type, body = respond(self.path.split("?", 1)[0], failure_rate(), random.random())
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        if self.path not in ("/metrics", "/healthz"):
            METRICS.observe("GET", status, time.monotonic() - started)

    def log_message(self, *args):   # one line per request is noise under a load test
        pass


def main() -> None:
    port = int(os.environ.get("PORT", "8080"))
    print(f"hello version {VERSION} listening on :{port}", flush=True)
    ThreadingHTTPServer(("", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
