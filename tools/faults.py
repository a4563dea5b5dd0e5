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
from typing import Any

from shopkit.faults import FAULTS, Fault, faults_file, read_flags, write_flags


def parse_value(fault: Fault, raw: str | None) -> bool | int | float:
    if raw is None or raw == "":
        return fault.default_on
    if fault.kind is bool:
        lowered = raw.lower()
        if lowered not in {"true", "false", "1", "0", "on", "off"}:
            raise ValueError(f"{fault.name} takes true or false, not {raw!r}")
        return lowered in {"true", "1", "on"}
    if fault.kind is int:
        value: int | float = int(raw)
    else:
        value = float(raw)
        if not 0 <= value <= 1:
            raise ValueError(f"{fault.name} takes a share between 0 and 1, not {raw!r}")
    if value < 0:
        raise ValueError(f"{fault.name} takes a value of 0 or more, not {raw!r}")
    return value


def _off_value(fault: Fault) -> bool | int | float:
    return fault.kind()


def flag_definition(fault: Fault, value: bool | int | float, *, on: bool) -> dict[str, Any]:
    return {
        "state": "ENABLED",
        "variants": {"on": value, "off": _off_value(fault)},
        "defaultVariant": "on" if on else "off",
    }


def fault_set(path: Path, name: str, raw: str | None) -> bool | int | float:
    fault = FAULTS[name]
    value = parse_value(fault, raw)
    flags = read_flags(path)
    flags[name] = flag_definition(fault, value, on=True)
    write_flags(path, flags)
    return value


def fault_off(path: Path, name: str) -> None:
    fault = FAULTS[name]
    flags = read_flags(path)
    last = flags.get(name, {}).get("variants", {}).get("on", fault.default_on)
    flags[name] = flag_definition(fault, last, on=False)
    write_flags(path, flags)


def fault_states(path: Path) -> list[tuple[str, bool, Any, str]]:
    """(name, on, value, description) for every known fault, as the file has it."""
    flags = read_flags(path)
    rows: list[tuple[str, bool, Any, str]] = []
    for name, fault in FAULTS.items():
        flag: dict[str, Any] = flags.get(name) or {}
        on = flag.get("state") == "ENABLED" and flag.get("defaultVariant") == "on"
        value = flag.get("variants", {}).get("on", fault.default_on)
        rows.append((name, on, value, fault.description))
    return rows


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
