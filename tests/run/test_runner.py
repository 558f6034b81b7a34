"""The runner's guarantees, on the toy series of conftest.py: one coherent result set per run,
archives, a failed run set aside, declared inputs and outputs, subset runs, and one config per run.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest
import yaml

from spring_lib.config import SNAPSHOT_FILE, load_config
from spring_lib.run.errors import RunError
from spring_lib.run.lock import lock_held
from spring_lib.run.record import git_commit, verify_products

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- a complete run

def test_successful_run_publishes_verified_result_set(study):
    from spring_lib.data.catalogue import catalog_checksum, load_catalog

    out = study.run()
    assert out == study.current and out.is_dir()
    assert study.calls == ["01_a", "02_b"]
    record = study.record(out)
    assert record["status"] == "ok" and record["profile"] == study.name
    assert re.match(r"^\d{8}T\d{6}Z-[0-9a-f]{4}$", record["run_id"])
    # the commit of this checkout: 40 hex digits, "+dirty" when the library, notebooks or
    # profiles differ from it
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", record["git_commit"]), record["git_commit"]
    assert record["git_commit"] == git_commit()
    assert record["cpu"]["model"] and record["cpu"]["cores"] == os.cpu_count()
    assert HEX64.match(record["data_checksum"])
    assert record["data_checksum"] == catalog_checksum(load_catalog(load_config(study.profile_file)))
    assert [n["notebook"] for n in record["notebooks"]] == ["01_a.ipynb", "02_b.ipynb"]
    assert all(n["status"] == "ok" for n in record["notebooks"])
    assert [n["estimate_seconds"] for n in record["notebooks"]] == [1.0, 1.0]
    # nothing left behind
    assert not list((study.results_root / ".staging").glob("*"))
    assert not (study.results_root / ".failed").exists()
    assert not lock_held(study.results_root, study.name)

    # the product list is exactly the files, with their sha256, all made by this run
    products = {p["path"]: p for p in record["products"]}
    on_disk = {rel for rel in study.files(out) if rel != "run.json"}
    assert set(products) == on_disk
    for rel in ("tables/a.csv", "tables/b.csv", "notebooks/01_a.ipynb", "notebooks/02_b.ipynb",
                "REPORT.md", "site/index.html", SNAPSHOT_FILE):
        assert rel in products, rel
    for rel, p in products.items():
        assert p["sha256"] == _sha(out / rel), rel
        assert p["bytes"] == (out / rel).stat().st_size, rel
        assert p["made_by"] == record["run_id"], rel
    assert verify_products(out) == []


def test_each_notebook_is_estimated_before_it_starts_and_gains_the_arms_it_plans(study):
    """The runner records a notebook's estimate made before it starts; a notebook that plans
    arms adds them, and the time it took to plan them, from its plan event."""
    from spring_lib.core.progress import arms_planned

    study.estimates["02_b"] = {"kernel and imports": 4.0, "figures": 2.0}
    study.after["02_b"] = lambda: arms_planned([("x-probe", "planned", 30.0),
                                                ("y-TL", "not run: over the arm's cap", 999.0)])
    record = study.record(study.run())
    first, second = record["notebooks"]
    assert first["estimate_parts"] == {"work": 1.0} and first["estimate_seconds"] == 1.0
    parts = second["estimate_parts"]
    assert set(parts) == {"until its plan (start, measuring)", "planned arms", "figures"}
    assert parts["planned arms"] == 30.0 and parts["figures"] == 2.0
    assert 0 <= parts["until its plan (start, measuring)"] <= second["seconds"] + 1
    assert abs(second["estimate_seconds"] - sum(parts.values())) <= 0.15


def test_a_notebook_that_cannot_be_estimated_still_runs_and_says_why(study, monkeypatch):
    from spring_lib.run import series

    def fails(step, cfg, folder):
        raise ValueError("no tiles yet")
    monkeypatch.setattr(series, "before_notebook", fails)
    record = study.record(study.run())
    assert [n["status"] for n in record["notebooks"]] == ["ok", "ok"]
    assert all(n["estimate_error"] == "ValueError: no tiles yet" and "estimate_seconds" not in n
               for n in record["notebooks"])
    assert any("no estimate for 01_a.ipynb: ValueError: no tiles yet" in ln for ln in study.logs)


def test_reruns_archive_each_previous_complete_set(study):
    ids = []
    for _ in range(4):
        ids.append(study.record(study.run())["run_id"])
    assert len(set(ids)) == 4
    archive_root = study.results_root / ".archive"
    assert sorted(p.name for p in archive_root.iterdir()) == sorted(f"{study.name}-{i}" for i in ids[:3])
    for run_id in ids[:3]:
        archive = archive_root / f"{study.name}-{run_id}"
        record = study.record(archive)
        assert record["run_id"] == run_id and record["status"] == "ok"
        # complete: every listed product is there, and nothing else
        assert {p["path"] for p in record["products"]} == set(study.files(archive)) - {"run.json"}
        assert verify_products(archive) == []
        assert (archive / "tables" / "a.csv").exists() and (archive / "tables" / "b.csv").exists()
        assert run_id in (archive / "REPORT.md").read_text()
    current = study.record(study.current)
    assert current["run_id"] == ids[3] and current["status"] == "ok"
    assert verify_products(study.current) == []
    assert ids[3] in (study.current / "REPORT.md").read_text()
    assert any(f"previous result set (run {ids[2]}) moved to" in m for m in study.logs)


def test_failing_notebook_leaves_current_results_and_sets_output_aside(study):
    first = study.run()
    before = study.files(first)
    first_id = study.record(first)["run_id"]

    study.behaviour["02_b"] = "fail"
    with pytest.raises(RunError) as exc:
        study.run()
    msg = str(exc.value)
    assert "02_b.ipynb" in msg and "cell [7]" in msg and "ValueError: boom" in msg

    assert study.files(study.current) == before            # byte for byte, run.json included
    assert study.record(study.current)["run_id"] == first_id
    failed = list((study.results_root / ".failed").iterdir())
    assert len(failed) == 1 and failed[0].name.startswith(f"{study.name}-")
    record = study.record(failed[0])
    assert failed[0].name == f"{study.name}-{record['run_id']}" and record["run_id"] != first_id
    assert record["status"] == "failed"
    assert "02_b.ipynb" in record["reason"] and "[7]" in record["reason"]
    entries = {n["notebook"]: n for n in record["notebooks"]}
    assert entries["01_a.ipynb"]["status"] == "ok"
    assert entries["02_b.ipynb"]["status"] == "failed" and entries["02_b.ipynb"]["cell"] == 7
    assert entries["02_b.ipynb"]["error"] == "ValueError: boom"
    # the partial output is kept where one can look at it
    assert (failed[0] / "tables" / "partial.csv").exists()
    assert (failed[0] / "tables" / "a.csv").exists()
    assert (failed[0] / "notebooks" / "02_b.ipynb").exists()
    assert not list((study.results_root / ".staging").glob("*"))
    assert not (study.results_root / ".archive").exists()
    assert not lock_held(study.results_root, study.name)


# ---------------------------------------------------------------- declared inputs and outputs

def test_declared_reads_and_writes_are_enforced(study):
    # a complete set holding tables/x.csv, made while 01_a still wrote it
    study.stage("01_a", writes=("tables/a.csv", "tables/x.csv"))
    first = study.run()
    assert (first / "tables" / "x.csv").exists()
    before = study.files(first)

    # now nothing in the run writes x.csv: the stale copy in the last complete set must not do
    study.stage("01_a", writes=("tables/a.csv",))
    study.stage("02_b", reads=("tables/x.csv",), writes=("tables/b.csv",))
    study.calls.clear()
    with pytest.raises(RunError) as exc:
        study.run()
    assert "02_b.ipynb needs ['tables/x.csv']" in str(exc.value)
    assert study.calls == ["01_a"]                       # refused before it executed
    assert study.files(study.current) == before
    failed = sorted((study.results_root / ".failed").iterdir())
    assert len(failed) == 1 and study.record(failed[0])["status"] == "failed"
    assert not (failed[0] / "notebooks" / "02_b.ipynb").exists()

    # a notebook that finishes without writing what it declares fails the run
    study.stage("02_b", writes=("tables/b.csv",))
    study.behaviour["02_b"] = "nowrite"
    study.calls.clear()
    with pytest.raises(RunError) as exc:
        study.run()
    assert "02_b.ipynb finished without writing ['tables/b.csv']" in str(exc.value)
    assert study.calls == ["01_a", "02_b"]
    assert study.files(study.current) == before
    failed = sorted((study.results_root / ".failed").iterdir(),
                    key=lambda p: study.record(p)["started"])
    assert len(failed) == 2
    last = [f for f in failed if any(n["notebook"] == "02_b.ipynb"
                                     for n in study.record(f)["notebooks"])]
    assert len(last) == 1
    entry = study.record(last[0])["notebooks"][-1]
    assert entry["status"] == "failed" and "without writing" in entry["error"]

    # and one that writes a file the product catalogue does not list
    study.behaviour["02_b"] = "stray"
    with pytest.raises(RunError, match=r"02_b.ipynb wrote \['tables/stray.csv'\], which "
                                       r"spring_lib/core/products.py does not list"):
        study.run()
    assert study.files(study.current) == before


# ---------------------------------------------------------------- subset runs

def test_subset_run_starts_from_last_complete_set(study):
    first = study.run()
    first_id = study.record(first)["run_id"]
    a_bytes = (first / "tables" / "a.csv").read_bytes()
    study.calls.clear()
    study.logs.clear()

    out = study.run(["02"])
    assert study.calls == ["02_b"]
    assert any("starting from the last complete result set" in m and first_id in m
               for m in study.logs)
    record = study.record(out)
    assert record["status"] == "ok" and record["run_id"] != first_id
    assert record["started_from"] == first_id
    assert record["notebooks_selected"] == ["02_b.ipynb"]
    assert (out / "tables" / "a.csv").read_bytes() == a_bytes
    assert (out / "notebooks" / "01_a.ipynb").exists()
    assert verify_products(out) == []
    made_by = {p["path"]: p["made_by"] for p in record["products"]}
    # carried unchanged from the first run
    for rel in ("tables/a.csv", "notebooks/01_a.ipynb", f"logs/progress-{first_id}.jsonl"):
        assert made_by[rel] == first_id, rel
    # made again by this run (b.csv has the same bytes as before: still this run's)
    for rel in ("tables/b.csv", "notebooks/02_b.ipynb", "REPORT.md", "site/index.html",
                f"logs/progress-{record['run_id']}.jsonl"):
        assert made_by[rel] == record["run_id"], rel
    assert set(made_by.values()) == {first_id, record["run_id"]}
    assert (study.results_root / ".archive" / f"{study.name}-{first_id}" / "run.json").exists()


def test_results_from_before_runs_are_archived_not_built_on(study):
    """A result folder whose run.json has no run id (an older layout) is set aside whole."""
    old = study.results_root / study.name
    (old / "tables").mkdir(parents=True)
    (old / "tables" / "a.csv").write_text("old\n")
    (old / "run.json").write_text(json.dumps({"status": "ok", "profile": study.name}))
    out = study.run()
    archived = list((study.results_root / ".archive").glob(f"{study.name}-before-*"))
    assert len(archived) == 1 and (archived[0] / "tables" / "a.csv").read_text() == "old\n"
    assert study.record(out)["started_from"] is None


def test_subset_run_refuses_a_result_set_of_other_profile_values(study):
    study.run()
    study.profile_file.write_text(study.profile_file.read_text() + "split: {seed: 1}\n")
    calls = len(study.calls)
    with pytest.raises(RunError, match="other profile values"):
        study.run(["02"])
    assert len(study.calls) == calls and not list((study.results_root / ".staging").glob("*"))


def test_subset_run_without_a_complete_set_is_refused(study):
    """`--notebooks 01` with nothing to start from would publish a partial set as ok."""
    with pytest.raises(RunError, match="no complete result set") as exc:
        study.run(["01"])
    assert "\n" not in str(exc.value)
    assert study.calls == [] and not study.current.exists()
    assert not (study.results_root / ".staging").exists() or not list(
        (study.results_root / ".staging").iterdir())


# ---------------------------------------------------------------- one config per run

def test_the_profile_is_read_once_and_an_edit_mid_run_changes_nothing(study, monkeypatch):
    """The runner parses the YAML once; each notebook opens the study from the run's snapshot,
    so a profile edited between two notebooks leaves the second as the first."""
    edited = {**yaml.safe_load(study.profile_file.read_text()), "evaluation": {"n_bootstrap": 222}}
    parses = []
    yaml_load = yaml.load
    monkeypatch.setattr(yaml, "load", lambda *a, **k: parses.append(1) or yaml_load(*a, **k))
    study.after["01_a"] = lambda: study.profile_file.write_text(yaml.safe_dump(edited))
    study.open_study = True

    out = study.run()
    assert len(parses) == 1
    assert load_config(study.profile_file).evaluation.n_bootstrap == 222   # the edit is real
    for name in ("01_a", "02_b"):
        profile, cfg = study.seen[name]
        assert profile == study.name                     # notebooks get the profile's name
        assert cfg.evaluation.n_bootstrap == 1000, name  # the schema's default, as at the start
        assert cfg.source == str(study.profile_file)
    assert study.seen["02_b"][1].model_dump() == study.seen["01_a"][1].model_dump()
    record, snapshot = study.record(out), json.loads((out / SNAPSHOT_FILE).read_text())
    assert record["config"] == snapshot["config"]
    assert record["config"]["evaluation"]["n_bootstrap"] == 1000
    assert snapshot["profile"] == study.name and snapshot["profile_file"] == record["profile_file"]
