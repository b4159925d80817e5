"""Generate the gRPC Python stubs from ``protos/`` into ``service/_proto`` (``make proto``).

protoc writes ``from allot.v1 import allot_pb2`` into the gRPC stub because the proto lives at
``allot/v1/allot.proto``; the generated modules live under ``service._proto`` instead, so the import is
rewritten. ``generate(out_dir)`` is also used by the staleness test, which regenerates into a temporary
directory and compares with what is committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "protos"
PROTO_FILES = ["allot/v1/allot.proto"]
OUT_DIR = ROOT / "service" / "_proto"
PACKAGE = "service._proto"


def generate(out_dir: Path = OUT_DIR) -> list[Path]:
    """Run protoc (grpcio-tools) and return the generated files."""
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).parent / "_proto"
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *PROTO_FILES,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed: {' '.join(args)}")
    written: list[Path] = []
    for path in sorted(out_dir.rglob("*.py*")):
        if path.suffix not in (".py", ".pyi"):
            continue
        text = path.read_text()
        fixed = text.replace("from allot.v1 import", f"from {PACKAGE}.allot.v1 import")
        if fixed != text:
            path.write_text(fixed)
        written.append(path)
    for pkg in {p.parent for p in written} | {out_dir / "allot"}:
        while pkg != out_dir.parent and pkg.is_relative_to(out_dir):
            init = pkg / "__init__.py"
            if not init.exists():
                init.write_text("")
            pkg = pkg.parent
    return written


if __name__ == "__main__":
    for p in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR):
        print(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p)
