"""tools/check_event_schemas.py in a throwaway git repository: stale docs, and published versions vs main."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from shopkit.events.schemas import documents
from tools import check_event_schemas


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def _write(root: Path, files: dict[str, str]) -> None:
    directory = root / "docs" / "events"
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.iterdir():
        path.unlink()
    for name, text in files.items():
        (directory / name).write_text(text)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository whose main branch published what the contracts generate now, on a branch of its own."""
    monkeypatch.delenv("EVENT_SCHEMA_BASE", raising=False)
    _git(tmp_path, "init", "--quiet", "--initial-branch=main")
    _write(tmp_path, documents())
    _git(tmp_path, "add", "docs")
    _git(tmp_path, "commit", "--quiet", "-m", "published")
    _git(tmp_path, "switch", "--quiet", "-c", "change")
    return tmp_path


def _publish_on_main(root: Path, name: str, schema: dict[str, object]) -> None:
    _git(root, "switch", "--quiet", "main")
    (root / "docs" / "events" / name).write_text(json.dumps(schema))
    _git(root, "add", "docs")
    _git(root, "commit", "--quiet", "-m", "published differently")
    _git(root, "switch", "--quiet", "change")
    _write(root, documents())


def test_fresh_docs_compatible_with_main_pass(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # when
    code = check_event_schemas.main(["--root", str(repo)])

    # then
    assert code == 0
    assert capsys.readouterr().out == "event schemas: 5 files fresh, published versions compatible with main\n"


def test_a_stale_or_extra_file_fails(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given
    events = repo / "docs" / "events"
    (events / "shop.order.confirmed.v1.json").write_text("{}\n")
    (events / "notes.txt").write_text("hand-written\n")

    # when
    code = check_event_schemas.main(["--root", str(repo)])

    # then
    assert code == 1
    assert capsys.readouterr().err.splitlines() == [
        "check_event_schemas: stale: notes.txt: not generated from the contracts (make event-schemas)",
        "check_event_schemas: stale: shop.order.confirmed.v1.json: differs from what the contracts generate "
        "(make event-schemas)",
    ]


def test_a_published_version_changed_incompatibly_fails(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # given: main published a cancellation reason the contract no longer has
    published = json.loads(documents()["shop.order.cancelled.v1.json"])
    published["properties"]["reason"]["enum"].append("fraud")
    _publish_on_main(repo, "shop.order.cancelled.v1.json", published)

    # when
    code = check_event_schemas.main(["--root", str(repo)])

    # then
    assert code == 1
    assert capsys.readouterr().err.splitlines() == [
        "check_event_schemas: incompatible with main: shop.order.cancelled.v1.json: "
        "data.reason: enum narrowed, ['fraud'] removed"
    ]


def test_a_published_version_that_disappeared_without_retirement_fails(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: main published a version the contracts no longer declare
    _publish_on_main(repo, "shop.order.refunded.v1.json", {"x-event-type": "shop.order.refunded.v1"})

    # when
    code = check_event_schemas.main(["--root", str(repo)])

    # then
    assert code == 1
    assert capsys.readouterr().err.splitlines() == [
        "check_event_schemas: incompatible with main: shop.order.refunded.v1.json: "
        "a published version disappeared; retire its type in RETIRED_EVENT_TYPES"
    ]


def test_write_regenerates_the_directory(repo: Path) -> None:
    # given
    events = repo / "docs" / "events"
    (events / "asyncapi.yaml").write_text("edited by hand\n")
    (events / "shop.order.created.v1.json").write_text("{}\n")

    # when
    code = check_event_schemas.main(["--root", str(repo), "--write"])

    # then
    assert code == 0
    assert {p.name: p.read_text() for p in events.iterdir()} == documents()


def test_without_a_main_branch_the_check_says_what_to_fetch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.delenv("EVENT_SCHEMA_BASE", raising=False)
    _git(tmp_path, "init", "--quiet", "--initial-branch=trunk")

    # when / then
    with pytest.raises(SystemExit, match=r"none of main, origin/main is a commit here; fetch the main branch"):
        check_event_schemas.main(["--root", str(tmp_path)])


def test_without_a_main_branch_main_is_fetched_from_origin(
    repo: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: a checkout of the change alone (like a pull request's in CI), whose origin has main
    checkout = tmp_path_factory.mktemp("checkout")
    _git(checkout, "init", "--quiet", "--initial-branch=pr")
    _git(checkout, "remote", "add", "origin", str(repo))
    _write(checkout, documents())

    # when
    code = check_event_schemas.main(["--root", str(checkout)])

    # then
    assert code == 0
    assert capsys.readouterr().out == "event schemas: 5 files fresh, published versions compatible with origin/main\n"
