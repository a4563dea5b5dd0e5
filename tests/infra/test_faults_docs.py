"""docs/faults.md, the runbooks and the live alert contract say the same thing: each fault names the alerts
it fires (tests/alerts proves them), and each of those alerts' runbooks links back to the fault."""

from __future__ import annotations

import re

from shopkit.faults import FAULTS
from tests.alerts.support import FAULT_ALERTS
from tests.infra.support import ROOT, load_rules

FAULTS_DOC = ROOT / "docs" / "faults.md"
RUNBOOKS = ROOT / "docs" / "runbooks"
TRIGGERS = "## Faults that trigger it"


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    return {part.split("\n", 1)[0].strip(): part for part in parts[1:]}


def _bullet(section: str, title: str) -> str:
    """The text of the `- **<title>**` bullet of a section, up to the next bullet."""
    match = re.search(rf"^- \*\*{re.escape(title)}(.*?)(?=^- \*\*|\Z)", section, flags=re.MULTILINE | re.DOTALL)
    assert match, f"no '- **{title}**' bullet"
    return match.group(1)


def _alert_names() -> set[str]:
    return {rule["alert"] for rule in load_rules() if "alert" in rule}


def test_every_fault_has_its_live_alerts_and_the_live_test_covers_every_fault() -> None:
    assert set(FAULT_ALERTS) == set(FAULTS)
    for name, expected in FAULT_ALERTS.items():
        assert expected, f"{name}: a fault with no alert to fire"
        assert {e.alertname for e in expected} <= _alert_names(), name


def test_each_faults_section_names_the_alerts_it_fires_live_and_only_real_alerts() -> None:
    sections = _sections(FAULTS_DOC.read_text())
    alerts = _alert_names()
    for name, expected in FAULT_ALERTS.items():
        assert name in sections, f"docs/faults.md has no section for {name}"
        live = _bullet(sections[name], "Alerts, live")
        named = set(re.findall(r"`([A-Z][A-Za-z0-9]+)`", live))
        assert {e.alertname for e in expected} <= named, f"{name}: the doc does not name {expected}"
        assert named <= alerts, f"{name}: names alerts that do not exist: {sorted(named - alerts)}"


def test_every_runbook_says_which_faults_trigger_it_and_links_each_fault_that_does() -> None:
    fired_by: dict[str, set[str]] = {}
    for fault, expected in FAULT_ALERTS.items():
        for alert in expected:
            fired_by.setdefault(alert.alertname, set()).add(fault)
    for runbook in sorted(RUNBOOKS.glob("*.md")):
        text = runbook.read_text()
        assert TRIGGERS in text, f"{runbook.name}: no '{TRIGGERS}' section"
        triggers = text.split(TRIGGERS, 1)[1]
        linked = set(re.findall(r"\(\.\./faults\.md#([a-z0-9-]+)\)", triggers))
        assert linked <= set(FAULTS), f"{runbook.name}: links unknown faults {sorted(linked - set(FAULTS))}"
        assert fired_by.get(runbook.stem, set()) <= linked, f"{runbook.name}: does not link {fired_by[runbook.stem]}"


def test_the_runbook_check_sees_a_fault_a_runbook_forgets() -> None:
    text = "# X\n\n## Faults that trigger it\n- [`products-errors`](../faults.md#products-errors)\n"

    linked = set(re.findall(r"\(\.\./faults\.md#([a-z0-9-]+)\)", text.split(TRIGGERS, 1)[1]))

    assert linked == {"products-errors"}
    assert not {"products-errors", "carts-unavailable"} <= linked
