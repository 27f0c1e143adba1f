"""``harkd compare``: seeds paired through run.json, one-line errors for unpaired inputs."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from tinyruns import train_tiny  # noqa: E402


@pytest.fixture(scope="module")
def seed_runs(synth_utd, tmp_path_factory):
    """Two 'methods' x two seeds of the tiny raw student (1 vs 2 epochs)."""
    out = tmp_path_factory.mktemp("compare")
    runs = {}
    for epochs in (1, 2):
        for seed in (0, 1):
            run = train_tiny(synth_utd, out / f"e{epochs}_s{seed}", "raw", epochs=epochs, seed=seed)
            runs[epochs, seed] = str(run)
    return runs


def test_compare_pairs_by_seed_whatever_the_order(run, seed_runs):
    rc, out, err = run("compare", seed_runs[2, 1], seed_runs[2, 0], "--baseline", seed_runs[1, 0],
                       seed_runs[1, 1], "--json")
    assert rc == 0, err
    result = json.loads(out)
    assert result["seeds"] == [0, 1]
    assert result["method"]["runs"] == [seed_runs[2, 0], seed_runs[2, 1]]
    diffs = [m - b for m, b in zip(result["method"]["values"], result["baseline"]["values"])]
    assert result["difference"]["mean"] == pytest.approx(sum(diffs) / 2)
    assert result["difference"]["verdict"] == "no significant gain"  # two seeds can never be a gain


def test_compare_prints_a_verdict(run, seed_runs):
    rc, out, _ = run("compare", seed_runs[2, 0], seed_runs[2, 1], "--baseline", seed_runs[1, 0], seed_runs[1, 1])
    assert rc == 0
    assert "paired difference" in out and out.strip().endswith("no significant gain")


def test_compare_refuses_unpaired_seeds(run, seed_runs):
    rc, _, err = run("compare", seed_runs[2, 0], "--baseline", seed_runs[1, 1])
    assert rc == 2
    assert err.strip() == ("harkd: error: the method's seeds [0] differ from the baseline's [1]: "
                           "a paired comparison needs the same seeds on both sides")
    rc, _, err = run("compare", seed_runs[2, 0], seed_runs[1, 0], "--baseline", seed_runs[1, 1])
    assert rc == 2
    assert err.strip() == (f"harkd: error: method runs {seed_runs[2, 0]} and {seed_runs[1, 0]} share seed 0: "
                           "give one run per seed")


def test_compare_names_a_directory_that_is_not_a_run(run, tmp_path, seed_runs):
    rc, _, err = run("compare", str(tmp_path), "--baseline", seed_runs[1, 0])
    assert rc == 2
    assert err.strip() == f"harkd: error: {tmp_path / 'run.json'}: not found: is this a harkd run directory?"
