"""run.json: the run id, the commit, and the product list that a result set is checked against."""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from spring_lib.run import record as rec
from spring_lib.run.errors import RunError


def _result_set(folder, run_id="20260101T000000Z-abcd", earlier=None, since=0.0):
    (folder / "tables").mkdir(parents=True, exist_ok=True)
    (folder / "tables" / "a.csv").write_text("a\n")
    (folder / "REPORT.md").write_text("# report\n")
    record = {"run_id": run_id, "status": "ok",
              "products": rec.list_products(folder, run_id, since, earlier)}
    rec.write_record(folder, record)
    return record


def test_verify_products_names_a_stray_file_and_changed_bytes(tmp_path):
    _result_set(tmp_path)
    assert rec.verify_products(tmp_path) == []
    (tmp_path / "tables" / "stray.csv").write_text("not from this run\n")
    assert rec.verify_products(tmp_path) == [
        "tables/stray.csv: not a product of run 20260101T000000Z-abcd"]
    (tmp_path / "tables" / "stray.csv").unlink()
    (tmp_path / "tables" / "a.csv").write_text("edited by hand\n")
    assert rec.verify_products(tmp_path) == [
        "tables/a.csv: sha256 differs from run 20260101T000000Z-abcd's record"]


def test_a_listed_product_kept_out_of_the_folder_is_no_problem(tmp_path):
    _result_set(tmp_path)
    (tmp_path / "REPORT.md").unlink()   # like models/, listed but not committed
    assert rec.verify_products(tmp_path) == []


def test_products_carried_unchanged_keep_the_run_that_made_them(tmp_path):
    first = _result_set(tmp_path, "20260101T000000Z-0001")
    old = time.time() - 100
    os.utime(tmp_path / "tables" / "a.csv", (old, old))      # copied from the earlier set
    (tmp_path / "REPORT.md").write_text("# report\n")          # the same bytes, written again
    (tmp_path / "tables" / "b.csv").write_text("new\n")
    products = rec.list_products(tmp_path, "20260101T000000Z-0002", time.time() - 50, first)
    made_by = {p["path"]: p["made_by"] for p in products}
    assert made_by == {"tables/a.csv": "20260101T000000Z-0001", "REPORT.md": "20260101T000000Z-0002",
                       "tables/b.csv": "20260101T000000Z-0002"}
    # an old file whose bytes differ from the earlier record is not carried
    (tmp_path / "tables" / "a.csv").write_text("changed\n")
    os.utime(tmp_path / "tables" / "a.csv", (old, old))
    products = rec.list_products(tmp_path, "20260101T000000Z-0002", time.time() - 50, first)
    assert {p["path"]: p["made_by"] for p in products}["tables/a.csv"] == "20260101T000000Z-0002"


def test_run_ids_name_run_folders():
    ids = {rec.new_run_id() for _ in range(20)}
    assert all(rec.RUN_FOLDER.fullmatch(i) for i in ids) and len(ids) > 1
    assert not rec.RUN_FOLDER.fullmatch("gpu-20200101T000000Z-beef")


def test_paths_inside_the_checkout_are_recorded_relative_to_it(tmp_path):
    root = tmp_path / "checkout"
    (root / "params").mkdir(parents=True)
    assert rec.rel_path(root / "params" / "cpu.yaml", root) == "params/cpu.yaml"
    assert rec.rel_path(tmp_path / "mine.yaml", root) == str(tmp_path / "mine.yaml")


def test_only_a_finished_run_with_an_id_is_built_on(tmp_path):
    assert rec.complete_record(tmp_path) is None
    for record, built_on in (({"status": "ok", "run_id": "x"}, True), ({"status": "ok"}, False),
                             ({"status": "failed", "run_id": "x"}, False)):
        rec.write_record(tmp_path, record)
        assert (rec.complete_record(tmp_path) == record) is built_on, record
    assert not (tmp_path / ".run.json.tmp").exists()


def test_a_subset_run_must_be_the_same_study():
    previous = {"run_id": "r1", "config": {"split": {"seed": 0}}, "data_checksum": "d"}
    rec.check_same_study(previous, {"config": {"split": {"seed": 0}}, "data_checksum": "d"})
    with pytest.raises(RunError, match="run r1.*other profile values"):
        rec.check_same_study(previous, {"config": {"split": {"seed": 1}}, "data_checksum": "d"})
    with pytest.raises(RunError, match="other data"):
        rec.check_same_study(previous, {"config": {"split": {"seed": 0}}, "data_checksum": "e"})


def test_git_commit_is_the_checkouts_head_and_says_dirty(tmp_path, monkeypatch):
    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    git("init", "-q")
    (tmp_path / "spring_lib").mkdir()
    (tmp_path / "spring_lib" / "x.py").write_text("x = 1\n")
    git("add", ".")
    git("commit", "-qm", "one")
    head = git("rev-parse", "HEAD").strip()
    monkeypatch.setattr(rec, "project_root", lambda: tmp_path)
    assert rec.git_commit() == head
    (tmp_path / "notes.txt").write_text("outside the study's code: not dirty\n")
    assert rec.git_commit() == head
    (tmp_path / "spring_lib" / "x.py").write_text("x = 2\n")
    assert rec.git_commit() == head + "+dirty"
    monkeypatch.setattr(rec, "project_root", lambda: tmp_path / "spring_lib" / "nowhere")
    assert rec.git_commit() is None


def test_versions_name_the_packages_that_shape_the_numbers():
    v = rec.versions()
    assert set(v) == {"python", *rec.PACKAGES}
    assert v["pandas"] and v["python"].count(".") == 2
    assert json.dumps(v)
