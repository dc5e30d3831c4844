"""End to end, as a user runs it: the CLI on embedded defaults, checked against ground truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

TOLERANCE_S = 1.0


def deeplens(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPLENS_") and k != "DATABASE_URL"}
    env["DEEPLENS_HOME"] = str(home)
    done = subprocess.run([sys.executable, "-m", "deeplens.cli.main", *args], env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert done.returncode == 0, f"deeplens {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from deeplens.datagen import generate_dataset

    root = tmp_path_factory.mktemp("e2e")
    truth = generate_dataset(root / "data", "demo", seed=11)
    home = root / "home"
    ingest = deeplens(home, "ingest", str(root / "data"), "--wait")
    found = json.loads(deeplens(home, "appearances", "--json").stdout)
    return truth, found, home, root / "data", ingest


def test_ingest_wait_reports_completion(run):
    *_, ingest = run
    assert "Done in" in ingest.stdout


def test_the_found_products_are_the_ones_in_each_video(run):
    truth, found, *_ = run
    expected = {(video, a.product) for video, v in truth.videos.items() for a in v.appearances}
    assert {(a["video"], a["product"]) for a in found} == expected


def test_every_appearance_starts_and_ends_within_a_second_of_the_truth(run):
    truth, found, *_ = run
    for appearance in found:
        truths = [a for a in truth.videos[appearance["video"]].appearances if a.product == appearance["product"]]
        nearest = min(truths, key=lambda a: abs(a.start - appearance["start"]))
        assert abs(nearest.start - appearance["start"]) <= TOLERANCE_S, appearance
        assert abs(nearest.end - appearance["end"]) <= TOLERANCE_S, appearance


def test_each_true_appearance_is_found_once(run):
    truth, found, *_ = run
    assert len(found) == sum(len(v.appearances) for v in truth.videos.values())


def test_appearances_carry_box_and_evidence(run):
    _, found, home, *_ = run
    for appearance in found:
        _, _, w, h = appearance["box"]
        assert w > 0 and h > 0
        assert (home / "store" / "deeplens" / appearance["evidence"]).is_file()


def test_reingesting_the_same_folder_changes_nothing(run):
    _, found, home, data, _ = run
    deeplens(home, "ingest", str(data), "--wait")
    assert json.loads(deeplens(home, "appearances", "--json").stdout) == found


def test_the_cli_searches_by_image(run):
    truth, _, home, data, _ = run
    sku = min(truth.products)
    photo = data / "products" / sku / truth.products[sku].photos[0]
    hits = json.loads(deeplens(home, "search", "--image", str(photo), "--json").stdout)
    assert hits[0]["product"] == sku
