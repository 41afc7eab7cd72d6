"""Serve the program to a real Pulumi CLI through the pinned Python SDK's own language runtime server.

    python -m tools.langhost [--project DIR]     # prints "127.0.0.1:<port>", serves until killed
    pulumi up --client 127.0.0.1:<port> ...      # the CLI runs __main__.py through it

Why: the Pulumi CLI and the Kubernetes provider are built from Go modules here (tools/toolchain.py), but the
Python language host is not served by the Go proxy (github.com/pulumi/pulumi/sdk/python/cmd/
pulumi-language-python/v3 answers "not available" at every version tried). The CLI has a second, supported way
to run a Python program: `--client`, the address of a language runtime the caller started, which is what the
Automation API does for inline programs (pulumi==3.272.0 pulumi/automation/_stack.py: LanguageServer +
`--client=127.0.0.1:<port>`; the flag is pulumi/pulumi@v3.274.0:pkg/cmd/pulumi/operations/up.go). This module
runs the SDK's LanguageServer (pulumi/automation/_server.py, "derived from pulumi-language-python-exec") on the
project's own __main__.py, so the engine, the provider, the config the CLI reads from Pulumi.<stack>.yaml and
every resource registration are the real ones; only the process that hosts the Python program differs from
`pulumi up` on a user's machine (which starts pulumi-language-python, which runs the same __main__.py).

One program run per process: the CLI calls Run once per operation; start a fresh server for each command.
"""
from __future__ import annotations

import argparse
import os
import runpy
import sys
import threading
from concurrent import futures
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", default=str(Path(__file__).resolve().parent.parent),
                        help="the Pulumi project directory (its __main__.py runs)")
    args = parser.parse_args(argv)
    project = Path(args.project).resolve()
    os.chdir(project)
    sys.path.insert(0, str(project))

    import grpc
    from pulumi.automation._server import LanguageServer
    from pulumi.automation._stack import _GRPC_CHANNEL_OPTIONS
    from pulumi.runtime.proto import language_pb2_grpc

    def program() -> None:
        runpy.run_path(str(project / "__main__.py"), run_name="__main__")

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=_GRPC_CHANNEL_OPTIONS)
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(LanguageServer(program), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"127.0.0.1:{port}", flush=True)
    stop = threading.Event()
    try:
        # Until the caller closes our stdin (or kills us): no orphan server outlives its test.
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
        stop.wait()
    except KeyboardInterrupt:
        pass
    server.stop(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
