"""Generate Python gRPC stubs from proto/ into shopkit/src (never edited by hand, never committed)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "shopkit" / "src"


def main() -> int:
    # protoc finds the mypy-protobuf plugins next to this interpreter.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"--python_out={OUT_DIR}",
        f"--grpc_python_out={OUT_DIR}",
        f"--mypy_out={OUT_DIR}",
        f"--mypy_grpc_out={OUT_DIR}",
        *protos,
    ]
    code = protoc.main(args)
    if code != 0:
        return int(code)
    # Make every generated directory a regular package so imports and mypy resolve them.
    for directory in {(OUT_DIR / p).parent for p in protos}:
        while directory != OUT_DIR:
            (directory / "__init__.py").touch()
            (directory / "py.typed").touch()
            directory = directory.parent
    return 0


if __name__ == "__main__":
    sys.exit(main())
