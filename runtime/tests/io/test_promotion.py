"""Promotions pass the gate, are serialized and recorded in the history first; rollbacks walk
back through them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from prodml_runtime.core.gate import PromotionRefused
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import atomic, promotion, registry
from sklearn.dummy import DummyRegressor
from sklearn.pipeline import Pipeline

from tests.io.stand_in import stand_in

# The registry does not depend on the problem type: one demo project.
pytestmark = [
    pytest.mark.usefixtures("problem"),
    pytest.mark.parametrize("problem", ["binary"], indirect=True),
]


def test_a_corrupt_history_line_is_named(tmp_path: Path, schema: Schema) -> None:
    first = stand_in(tmp_path, schema, 0.8)
    promotion.promote(tmp_path, first)
    with (tmp_path / registry.HISTORY_FILE).open("a") as file:
        file.write("{truncated\n")
    with pytest.raises(registry.RegistryError, match=r"history.jsonl line 2 .*fix or remove"):
        registry.champion(tmp_path)


def test_more_rollbacks_than_promotions_is_a_clear_refusal(tmp_path: Path, schema: Schema) -> None:
    first, second = stand_in(tmp_path, schema, 0.8), stand_in(tmp_path, schema, 0.9)
    promotion.promote(tmp_path, first)
    promotion.promote(tmp_path, second)
    entries = registry.history(tmp_path)
    rollback = {"action": "rollback", "version": first, "previous": second}
    lines = [*entries, rollback, rollback]
    (tmp_path / registry.HISTORY_FILE).write_text("".join(json.dumps(e) + "\n" for e in lines))
    with pytest.raises(registry.RegistryError, match="rolls back further than its promotions"):
        promotion.rollback(tmp_path)


def test_a_crash_between_history_and_pointer_keeps_one_champion(
    tmp_path: Path, schema: Schema, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The history is written first: a crash (here: a full disk) before the pointer is updated
    leaves the promotion recorded and a stale pointer that the next registry write repairs."""
    first, second = stand_in(tmp_path, schema, 0.8), stand_in(tmp_path, schema, 0.9)
    promotion.promote(tmp_path, first)

    def disk_full(root: Path, name: str) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(promotion, "_sync_pointer", disk_full)
        with pytest.raises(OSError):
            promotion.promote(tmp_path, second)
    assert registry.champion(tmp_path) == second
    assert registry.history(tmp_path)[-1]["previous"] == first
    assert "already the champion" in promotion.promote(tmp_path, second)
    assert (tmp_path / registry.CHAMPION_FILE).read_text().strip() == second
    assert promotion.rollback(tmp_path) == first


_PROMOTER = """
import sys
from pathlib import Path
from {package} import promotion
root = Path(sys.argv[1])
for version in sys.argv[2:]:
    promotion.promote(root, version, force=True)
    print(version)
"""


def test_concurrent_promotions_are_serialized(tmp_path: Path, schema: Schema) -> None:
    """Six processes promoting five versions each: every reported promotion is in the history,
    and each entry's ``previous`` is the entry before it."""
    names = [stand_in(tmp_path, schema, 0.6 + i / 100) for i in range(30)]
    code = _PROMOTER.format(package=promotion.__package__)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path), *names[i::6]],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    reported = [line for worker in workers for line in worker.communicate()[0].split()]
    assert all(worker.returncode == 0 for worker in workers)
    entries = registry.history(tmp_path)
    assert sorted(reported) == sorted(names) == sorted(e["version"] for e in entries)
    assert [e["previous"] for e in entries] == [None, *(e["version"] for e in entries[:-1])]
    assert registry.champion(tmp_path) == entries[-1]["version"]


def test_tampered_challenger_is_never_promoted(schema: Schema, tmp_path: Path) -> None:
    version = stand_in(tmp_path, schema, 0.8)
    (tmp_path / version / registry.MODEL_FILE).write_bytes(b"not the pickle that was checked")
    with pytest.raises(registry.RegistryError, match="checksum mismatch"):
        promotion.promote(tmp_path, version)
    assert registry.current_champion(tmp_path) is None


def test_first_model_only_has_to_beat_the_baseline(schema: Schema, tmp_path: Path) -> None:
    version = stand_in(tmp_path, schema, 0.6, margin=0.05)
    assert "first champion" in promotion.promote(tmp_path, version)
    assert registry.champion(tmp_path) == version
    [entry] = registry.history(tmp_path)
    assert entry["version"] == version and entry["previous"] is None
    assert {"at", "reason"} <= set(entry)


@pytest.mark.parametrize(
    ("score", "margin"), [(0.52, 0.05), (0.5, 0.0), (0.4, 0.0)], ids=["margin", "tie", "worse"]
)
def test_model_not_beating_the_baseline_is_refused(
    schema: Schema, tmp_path: Path, score: float, margin: float
) -> None:
    """Model 5: a model no better than the dummy baseline never becomes champion, even forced."""
    version = stand_in(tmp_path, schema, score, baseline=0.5, margin=margin)
    for force in (False, True):
        with pytest.raises(PromotionRefused, match="beats the baseline"):
            promotion.promote(tmp_path, version, force=force)
    assert registry.current_champion(tmp_path) is None
    assert registry.history(tmp_path) == []


def test_challenger_worse_than_the_champion_is_refused_unless_forced(
    schema: Schema, tmp_path: Path
) -> None:
    champion = stand_in(tmp_path, schema, 0.80)
    worse, tie = stand_in(tmp_path, schema, 0.70), stand_in(tmp_path, schema, 0.80)
    promotion.promote(tmp_path, champion)
    with pytest.raises(PromotionRefused, match="worse than champion"):
        promotion.promote(tmp_path, worse)
    assert registry.champion(tmp_path) == champion
    promotion.promote(tmp_path, tie)
    assert registry.champion(tmp_path) == tie
    assert "forced" in promotion.promote(tmp_path, worse, force=True)
    assert registry.champion(tmp_path) == worse


def test_error_metrics_are_lower_is_better_by_default(schema: Schema, tmp_path: Path) -> None:
    champion = stand_in(tmp_path, schema, 10.0, baseline=20.0, metric="rmse", margin=1.0)
    worse = stand_in(tmp_path, schema, 12.0, baseline=20.0, metric="rmse", margin=1.0)
    better = stand_in(tmp_path, schema, 9.0, baseline=20.0, metric="rmse", margin=1.0)
    promotion.promote(tmp_path, champion)
    with pytest.raises(PromotionRefused, match="worse than champion"):
        promotion.promote(tmp_path, worse)
    promotion.promote(tmp_path, better)
    assert registry.champion(tmp_path) == better


def test_metadata_without_gate_evidence_is_refused(schema: Schema, tmp_path: Path) -> None:
    pipeline = Pipeline([("model", DummyRegressor())])
    version = registry.save(pipeline, tmp_path, schema=schema, metrics={}, params={})
    with pytest.raises(PromotionRefused, match="no gate evidence"):
        promotion.promote(tmp_path, version)


def test_rollback_walks_back_through_the_promotions(schema: Schema, tmp_path: Path) -> None:
    first, second, third = (stand_in(tmp_path, schema, s) for s in (0.7, 0.8, 0.9))
    for version in (first, second, third):
        promotion.promote(tmp_path, version)
    assert promotion.rollback(tmp_path) == second
    assert registry.champion(tmp_path) == second
    assert promotion.rollback(tmp_path) == first
    with pytest.raises(registry.RegistryError, match="nothing to roll back"):
        promotion.rollback(tmp_path)
    lines = (tmp_path / registry.HISTORY_FILE).read_text().splitlines()
    actions = [(e["action"], e["version"], e["previous"]) for e in map(json.loads, lines)]
    assert actions[-2:] == [("rollback", second, third), ("rollback", first, second)]


def test_promote_unknown_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(registry.RegistryError, match="no model version"):
        promotion.promote(tmp_path, "20260101T000000Z-00000000")


@pytest.mark.parametrize("change", ["promote", "rollback"])
@pytest.mark.parametrize("target", ["missing", "present"])
def test_a_lock_that_is_a_link_is_refused_and_creates_nothing(
    schema: Schema, tmp_path: Path, change: str, target: str
) -> None:
    root = tmp_path / "models"
    first, second = stand_in(root, schema, 0.8), stand_in(root, schema, 0.9)
    promotion.promote(root, first)
    promotion.promote(root, second)
    elsewhere = tmp_path / "elsewhere.txt"
    if target == "present":
        elsewhere.write_text("kept")
    (root / promotion.LOCK_FILE).unlink()
    (root / promotion.LOCK_FILE).symlink_to(elsewhere)
    history = (root / registry.HISTORY_FILE).read_text()
    with pytest.raises(registry.RegistryError, match=r"\.lock is a symbolic link to .*elsewhere"):
        if change == "promote":
            promotion.promote(root, first, force=True)
        else:
            promotion.rollback(root)
    assert elsewhere.exists() == (target == "present"), "nothing created outside the registry"
    assert target == "missing" or elsewhere.read_text() == "kept"
    assert (root / registry.HISTORY_FILE).read_text() == history


def test_a_history_that_is_a_link_is_refused(schema: Schema, tmp_path: Path) -> None:
    root = tmp_path / "models"
    promotion.promote(root, stand_in(root, schema, 0.8))
    elsewhere = tmp_path / "history.jsonl"
    (root / registry.HISTORY_FILE).rename(elsewhere)
    (root / registry.HISTORY_FILE).symlink_to(elsewhere)
    with pytest.raises(registry.RegistryError, match=r"history\.jsonl is a symbolic link to"):
        registry.champion(root)


def test_a_champion_pointer_that_is_a_link_is_replaced_not_followed(
    schema: Schema, tmp_path: Path
) -> None:
    root = tmp_path / "models"
    first, second = stand_in(root, schema, 0.8), stand_in(root, schema, 0.9)
    promotion.promote(root, first)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("kept\n")
    (root / registry.CHAMPION_FILE).unlink()
    (root / registry.CHAMPION_FILE).symlink_to(elsewhere)
    promotion.promote(root, second)
    pointer = root / registry.CHAMPION_FILE
    assert not pointer.is_symlink() and pointer.read_text() == second + "\n"
    assert elsewhere.read_text() == "kept\n"


_KILLED = """
import os, sys, time
from pathlib import Path
from {package} import promotion
root, change, blocked = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
replace = os.replace
def stop_before(source, destination):
    if Path(destination).name == blocked:
        print("staged", flush=True)
        time.sleep(600)
    replace(source, destination)
os.replace = stop_before
promotion.rollback(root) if change == "rollback" else promotion.promote(root, change, force=True)
"""


@pytest.mark.parametrize(
    ("killed", "blocked", "then"),
    [
        ("promote", registry.HISTORY_FILE, "rollback"),
        ("promote", registry.CHAMPION_FILE, "promote"),  # only repairs the pointer
        ("rollback", registry.HISTORY_FILE, "promote"),
        ("rollback", registry.CHAMPION_FILE, "rollback"),
    ],
)
def test_the_staging_of_a_killed_change_is_removed_by_the_next(
    schema: Schema, tmp_path: Path, killed: str, blocked: str, then: str
) -> None:
    """kill -9 of ``promote`` or ``rollback`` between staging a file and renaming it: the next
    promotion or rollback removes what it left."""
    root = tmp_path / "models"
    *promoted, last = (stand_in(root, schema, 0.6 + i / 10) for i in range(4))
    for version in promoted:
        promotion.promote(root, version)
    code = _KILLED.format(package=promotion.__package__)
    change = last if killed == "promote" else "rollback"
    writer = subprocess.Popen(
        [sys.executable, "-c", code, str(root), change, blocked], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "staged"
    writer.send_signal(signal.SIGKILL)
    assert writer.wait() == -signal.SIGKILL
    staged = [p.name for p in root.iterdir() if atomic.staging_target(p.name) == blocked]
    assert len(staged) == 1, sorted(p.name for p in root.iterdir())
    if then == "promote":
        promotion.promote(root, last, force=True)
    else:
        promotion.rollback(root)
    assert [p.name for p in root.iterdir() if atomic.is_staging(p.name)] == []
    champion = registry.champion(root)
    assert (root / registry.CHAMPION_FILE).read_text().strip() == champion
