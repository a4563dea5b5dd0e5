"""Create the gRPC CA and service certificates for the full stack: `make certs` (compose/secrets/grpc/).

    python -m tools.certs [--out compose/secrets/grpc] [--key-mode 644]

Writes `ca.crt`, `ca.key` and `<service>.crt|.key` for products, orders and carts once; run it again
after deleting a file (or near expiry) and only that is issued again. `make run` makes its own under
var/grpc. compose mounts the certificates and keys as secrets; the CA key is never mounted anywhere.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shopkit.grpc.pki import SERVICES, ensure_pki

ROOT = Path(__file__).resolve().parents[1]
# File secrets keep their host mode in compose and the image runs as uid 10001, which must read them.
SERVICE_KEY_MODE = 0o644


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "compose" / "secrets" / "grpc")
    parser.add_argument("--key-mode", default=f"{SERVICE_KEY_MODE:o}", help="octal mode of service keys (default 644)")
    args = parser.parse_args(argv)
    written = ensure_pki(args.out, SERVICES, key_mode=int(args.key_mode, 8))
    for name in written:
        sys.stdout.write(f"created {args.out / name}.crt\n")
    if not written:
        sys.stdout.write(f"{args.out}: every certificate is present and valid\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
