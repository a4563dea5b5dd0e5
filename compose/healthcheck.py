"""Container health probe for Shop processes (the slim image has no curl): an HTTP URL or a gRPC target.

    python compose/healthcheck.py http://127.0.0.1:5000/health/ready
    python compose/healthcheck.py grpc 127.0.0.1:50051      (mutual TLS with GRPC_TLS_* of the container)

Exit status 0 means healthy; anything else is reported by Docker as a failed probe.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

TIMEOUT_SECONDS = 3.0


def check_http(url: str) -> int:
    if not url.startswith(("http://", "https://")):
        sys.stderr.write(f"not an http(s) URL: {url}\n")
        return 2
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - scheme checked above
            return 0 if 200 <= response.status < 300 else 1
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        sys.stderr.write(f"{url}: {exc}\n")
        return 1


def check_grpc(target: str) -> int:
    """Health over mutual TLS with the container's own certificate (GRPC_TLS_*): the server refuses plaintext."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        ca, cert, key = (
            Path(os.environ[name]).read_bytes()  # noqa: TID251 - a probe without Django
            for name in ("GRPC_TLS_CA_FILE", "GRPC_TLS_CERT_FILE", "GRPC_TLS_KEY_FILE")
        )
    except (KeyError, OSError) as exc:
        sys.stderr.write(f"gRPC probe needs GRPC_TLS_CA_FILE, GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE: {exc}\n")
        return 2
    credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
    with grpc.secure_channel(target, credentials) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT_SECONDS)
        except grpc.RpcError as exc:
            sys.stderr.write(f"{target}: {exc.code().name}\n")
            return 1
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "grpc":
        return check_grpc(argv[1])
    if len(argv) == 1:
        return check_http(argv[0])
    sys.stderr.write(__doc__ or "")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
