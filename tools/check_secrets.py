"""`make lint`'s secret scan: detect-secrets re-scans every tracked file (requirements/ excepted) into
`.secrets.baseline`, keeping the audit decisions already made; any finding not audited as a false
positive (a new literal, or one marked real) fails the lint. Audit with `detect-secrets audit .secrets.baseline`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / ".secrets.baseline"


def main() -> int:
    listed = subprocess.check_output(["git", "ls-files"], cwd=ROOT, text=True)
    files = [f for f in listed.splitlines() if not f.startswith("requirements/") and f != BASELINE.name]
    scanner = Path(sys.executable).with_name("detect-secrets")
    before = BASELINE.read_text()
    subprocess.run([str(scanner), "scan", "--baseline", BASELINE.name, *files], cwd=ROOT, check=True)
    after = json.loads(BASELINE.read_text())
    if {**after, "generated_at": None} == {**json.loads(before), "generated_at": None}:
        BASELINE.write_text(before)  # nothing but the timestamp changed: leave the file as committed
    results = after["results"]
    unaudited = [
        f"{name}:{finding['line_number']} {finding['type']}"
        for name, findings in results.items()
        for finding in findings
        if finding.get("is_secret") is not False
    ]
    if unaudited:
        sys.stderr.write("possible secrets not audited as false positives:\n  " + "\n  ".join(unaudited) + "\n")
        return 1
    sys.stdout.write(f"secret scan: {len(files)} files, {sum(map(len, results.values()))} audited false positives\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
