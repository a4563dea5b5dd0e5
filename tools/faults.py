"""Switch fault flags on and off in the flags file every Shop process watches (`make fault`, `make faults`).

    python -m tools.faults list
    python -m tools.faults set NAME [VALUE]     on, with VALUE or the fault's usual value
    python -m tools.faults off NAME

The file is flagd's JSON format (https://flagd.dev/reference/flag-definitions/): each fault is a flag with
an "on" and an "off" variant; switching off moves `defaultVariant` to "off" and keeps the last value.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shopkit.faults import FAULTS, fault_off, fault_set, fault_states, faults_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.faults", description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=None, help="flags file (default: SHOP_FAULTS_FILE)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every fault, its state and value")
    set_parser = commands.add_parser("set", help="switch a fault on")
    set_parser.add_argument("name", choices=sorted(FAULTS))
    set_parser.add_argument("value", nargs="?", default=None)
    off_parser = commands.add_parser("off", help="switch a fault off")
    off_parser.add_argument("name", choices=sorted(FAULTS))
    args = parser.parse_args(argv)
    path: Path = args.file or faults_file()

    if args.command == "list":
        width = max(len(name) for name in FAULTS)
        sys.stdout.write(f"# {path}\n")
        for name, on, value, description in fault_states(path):
            state = "on " if on else "off"
            sys.stdout.write(f"{name:<{width}}  {state}  {value!s:<6}  {description}\n")
        return 0
    if args.command == "set":
        try:
            value = fault_set(path, args.name, args.value)
        except ValueError as exc:
            sys.stderr.write(f"{exc}\n")
            return 2
        sys.stdout.write(f"{args.name} on ({value}) in {path}\n")
        return 0
    fault_off(path, args.name)
    sys.stdout.write(f"{args.name} off in {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
