"""Regenerate docs/events/ from the event contracts (--write) or check it: fresh, and published versions compatible.

`make lint` runs the check: it fails when docs/events/ differs from what shopkit.events.contracts
generates, and when a schema published on the base branch (EVENT_SCHEMA_BASE, else `main`, else
`origin/main`, fetched from `origin` when absent) changed incompatibly or disappeared without its
type being retired. An incompatible change is a new version (`....v2`), never an edit of a published
one (docs/guides/events.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from shopkit.events.contracts import RETIRED_EVENT_TYPES
from shopkit.events.schemas import documents, incompatibilities

ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = Path("docs") / "events"
BASE_CANDIDATES = ("main", "origin/main")


def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def base_ref(root: Path) -> str:
    """The commit whose docs/events/ is the published contract."""
    candidates = [os.environ["EVENT_SCHEMA_BASE"]] if os.environ.get("EVENT_SCHEMA_BASE") else list(BASE_CANDIDATES)
    for candidate in candidates:
        if _git("rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", cwd=root).returncode == 0:
            return candidate
    # A pull request's shallow CI checkout has neither branch: fetch main from the remote it came from.
    if "EVENT_SCHEMA_BASE" not in os.environ and _git("remote", "get-url", "origin", cwd=root).returncode == 0:
        fetched = _git("fetch", "--quiet", "--depth=1", "origin", "+refs/heads/main:refs/remotes/origin/main", cwd=root)
        if fetched.returncode == 0:
            return "origin/main"
    raise SystemExit(
        f"check_event_schemas: none of {', '.join(candidates)} is a commit here; fetch the main branch "
        "(git fetch origin main) or set EVENT_SCHEMA_BASE to the published commit"
    )


def published_schemas(root: Path, ref: str) -> dict[str, dict[str, object]]:
    """file name -> schema of every JSON Schema docs/events/ holds at `ref` (none before the first)."""
    listing = _git("ls-tree", "--name-only", f"{ref}:{EVENTS_DIR.as_posix()}", cwd=root)
    if listing.returncode != 0:
        return {}
    schemas: dict[str, dict[str, object]] = {}
    for name in listing.stdout.split():
        if name.endswith(".json"):
            shown = _git("show", f"{ref}:{(EVENTS_DIR / name).as_posix()}", cwd=root)
            if shown.returncode != 0:
                raise SystemExit(f"check_event_schemas: cannot read {name} at {ref}: {shown.stderr.strip()}")
            schemas[name] = json.loads(shown.stdout)
    return schemas


def stale_files(root: Path, generated: dict[str, str]) -> list[str]:
    """What differs between docs/events/ and the generated files (missing, changed, or not generated)."""
    directory = root / EVENTS_DIR
    present = {p.name for p in directory.iterdir() if p.is_file()} if directory.is_dir() else set()
    problems = [f"{name}: not generated from the contracts" for name in sorted(present - set(generated))]
    for name, text in generated.items():
        path = directory / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif path.read_text() != text:
            problems.append(f"{name}: differs from what the contracts generate")
    return problems


def compatibility_problems(published: dict[str, dict[str, object]], generated: dict[str, str]) -> list[str]:
    problems: list[str] = []
    for name, old in published.items():
        if name not in generated:
            event_type = old.get("x-event-type")
            if event_type is not None and event_type not in RETIRED_EVENT_TYPES:
                problems.append(f"{name}: a published version disappeared; retire its type in RETIRED_EVENT_TYPES")
            continue
        new = json.loads(generated[name])
        problems.extend(f"{name}: {problem}" for problem in incompatibilities(old, new))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="write docs/events/ from the contracts")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root: Path = args.root
    generated = documents()
    if args.write:
        directory = root / EVENTS_DIR
        directory.mkdir(parents=True, exist_ok=True)
        for stale in [p for p in directory.iterdir() if p.is_file() and p.name not in generated]:
            stale.unlink()
        for name, text in generated.items():
            (directory / name).write_text(text)
        sys.stdout.write(f"wrote {len(generated)} files to {EVENTS_DIR}\n")
        return 0
    ref = base_ref(root)
    problems = [
        *(f"stale: {p} (make event-schemas)" for p in stale_files(root, generated)),
        *(f"incompatible with {ref}: {p}" for p in compatibility_problems(published_schemas(root, ref), generated)),
    ]
    for problem in problems:
        sys.stderr.write(f"check_event_schemas: {problem}\n")
    if not problems:
        sys.stdout.write(f"event schemas: {len(generated)} files fresh, published versions compatible with {ref}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
