"""harkd.cli.main: the backstops (closed pipe, OSError, internal error), warning lines, --help defaults."""

from __future__ import annotations

import argparse
import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

import harkd
import harkd.cli.main as cli_main
from harkd.errors import DataError, warn

SRC = str(Path(harkd.__file__).resolve().parents[1])


# ------------------------------------------------------------------- closed pipe
def run_into_closed_pipe(argv, unbuffered: bool):
    """Run ``python -m harkd ARGV`` with stdout a pipe whose reader has already left."""
    env = {**os.environ, "PYTHONPATH": SRC}
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "harkd", *map(str, argv)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # like `| head` that has exited: every write to stdout is EPIPE
    err = proc.stderr.read().decode()
    proc.stderr.close()
    return proc.wait(timeout=120), err


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("utd")
    assert cli_main.main(["synth", "utd-mhad", str(root), "--subjects", "2", "--trials", "1", "--actions", "1-3",
                          "--no-depth"]) == 0
    return root


@pytest.mark.parametrize("unbuffered", [False, True])
@pytest.mark.parametrize("argv", [
    ["--help"],                                     # printed by argparse
    ["data", "info", "--root", "{root}", "--json", "--val-subjects", "none"],  # 16 KB of JSON: the write fails
    ["synth", "utd-mhad", "{out}", "--subjects", "1", "--trials", "1", "--actions", "1", "--no-depth"],  # one line,
])                                                  # left in the buffer: the flush at exit would fail
def test_closed_pipe_is_a_quiet_exit_0(tiny_root, tmp_path, argv, unbuffered):
    code, err = run_into_closed_pipe([a.format(root=tiny_root, out=tmp_path / "s") for a in argv], unbuffered)
    assert (code, err) == (0, "")


def test_pipe_into_head(tiny_root):
    """`harkd data info --json | head -c 10`: exit 0 with pipefail, nothing on stderr."""
    env = {**os.environ, "PYTHONPATH": SRC}
    cmd = f"set -o pipefail; {sys.executable} -m harkd data info --root {tiny_root} --json --val-subjects none | head -c 10"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=env, timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "{\n  \"datas", "")


# -------------------------------------------------------------------- backstops
@pytest.fixture
def command(monkeypatch, capsys):
    """``run(func)``: main(["cmd"]) with a parser whose only subcommand calls ``func``; (code, out, err)."""

    def run(func):
        def parser():
            p = argparse.ArgumentParser(prog="harkd")
            sub = p.add_subparsers(dest="command")
            sub.add_parser("cmd").set_defaults(func=lambda args: func())
            return p

        monkeypatch.setattr(cli_main, "build_parser", parser)
        code = cli_main.main(["cmd"])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def raiser(error):
    def func():
        print("partial output")
        raise error
    return func


@pytest.mark.parametrize("error, code, line", [
    (OSError(errno.ENOSPC, "No space left on device", "/runs/x/last.pt"), 1,
     "harkd: error: /runs/x/last.pt: No space left on device (free some space or choose another directory)"),
    (PermissionError(errno.EACCES, "Permission denied", "/runs/x"), 1,
     "harkd: error: /runs/x: Permission denied (choose a writable directory)"),
    (OSError(errno.EIO, "Input/output error"), 1, "harkd: error: Input/output error"),
    (DataError("/data/a1_s1_t1_inertial.mat", "empty file (0 bytes)"), 2,
     "harkd: error: /data/a1_s1_t1_inertial.mat: empty file (0 bytes)"),
    (ZeroDivisionError("division by zero"), 1,
     "harkd: internal error: ZeroDivisionError: division by zero (this is a bug in harkd; set HARKD_DEBUG=1 for "
     "the traceback and report it)"),
    (KeyboardInterrupt(), 130, "harkd: interrupted"),
])
def test_backstops_end_in_one_line(command, monkeypatch, error, code, line):
    monkeypatch.delenv("HARKD_DEBUG", raising=False)
    assert command(raiser(error)) == (code, "partial output\n", line + "\n")


def test_debug_shows_the_traceback(command, monkeypatch):
    monkeypatch.setenv("HARKD_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        command(raiser(ZeroDivisionError("division by zero")))


def test_broken_pipe_in_a_command_is_quiet(command):
    assert command(raiser(BrokenPipeError(errno.EPIPE, "Broken pipe"))) == (0, "partial output\n", "")


def test_warning_lines(command):
    import warnings

    def func():
        for key in ("a01_s1_t1", "a01_s1_t1", "a02_s1_t1"):  # the same message at the same place: shown once
            warn(f"{key} left out: empty file")
            with warnings.catch_warnings():  # mutating the filters resets Python's own once-registry
                pass
        warn("a01_s1_t1 left out: empty file")  # ... and from another place
        warnings.warn("a library says so", UserWarning)  # other categories are named
        return 0

    code, out, err = command(func)
    assert (code, out) == (0, "")
    assert err.splitlines() == ["harkd: warning: a01_s1_t1 left out: empty file",
                                "harkd: warning: a02_s1_t1 left out: empty file",
                                "harkd: warning: UserWarning: a library says so"]


# ------------------------------------------------------------ --help and validators
def help_text(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as info:
        cli_main.main([*argv, "--help"])
    assert info.value.code == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command_name, expected", [
    ("bench", ["timed calls per runtime and thread setting, >= 1 (default: 200)",
               "untimed calls before timing, >= 0 (default: 20)", "or last (default: best)"]),
    ("stream", ["seconds between predictions (default: 0.5)",
                "a longer jump between rows (seconds) resets the buffer (default: 0.2)",
                "unit of the timestamps (default: s)", "window in seconds, > 0 (default: the model's window)"]),
    ("export", ["best (selected on validation) or last (default: best)",
                "sampling rate in Hz, > 0 (default: the dataset's;"]),
    ("gaf", ["axes to show (default: acc)", "GASF, GADF or both (default: both)"]),
])
def test_help_shows_defaults(capsys, command_name, expected):
    text = help_text(capsys, command_name)
    for phrase in expected:
        assert phrase in text
    assert "(default: None)" not in text and "(default: False)" not in text


def test_help_formatter_rules():
    parser = argparse.ArgumentParser(formatter_class=cli_main.HelpFormatter)
    parser.add_argument("--a", default=3, help="with a default")
    parser.add_argument("--b", help="no default")
    parser.add_argument("--c", action="store_true", help="a flag")
    parser.add_argument("--d", default="x", help="says its own (default: x)")
    parser.add_argument("pos", nargs="?", default="p", help="a positional")
    text = " ".join(parser.format_help().split())
    assert "pos a positional options:" in text  # positionals: as written
    assert "with a default (default: 3) --b B no default --c a flag --d D says its own (default: x)" in text


@pytest.mark.parametrize("parse, text, value_or_message", [
    (cli_main.int_at_least(1), "3", 3),
    (cli_main.int_at_least(1), "0", "expected a positive integer, got 0"),
    (cli_main.int_at_least(0), "-2", "expected a non-negative integer, got -2"),
    (cli_main.int_at_least(2), "x", "expected an integer >= 2, got 'x'"),
    (cli_main.positive_float, "2.5", 2.5),
    (cli_main.positive_float, "-0", "expected a finite number > 0, got -0"),
    (cli_main.positive_float, "1e999", "expected a finite number > 0, got 1e999"),
])
def test_validators(parse, text, value_or_message):
    if isinstance(value_or_message, str):
        with pytest.raises(argparse.ArgumentTypeError, match=f"^{value_or_message}$"):
            parse(text)
    else:
        assert parse(text) == value_or_message


# --------------------------------------------------- unwritable cache, end to end
def tiny_train_config(tmp_path, root, cache: bool) -> Path:
    """A one-epoch tiny accelerometer run on ``root``, written to ``tmp_path/tiny.yaml`` (runs under ``tmp_path/runs``)."""
    import yaml

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({
        "name": "tiny", "seed": 0, "output_dir": str(tmp_path / "runs"),
        "data": {"dataset": "utd-mhad", "root": str(root), "cache": cache,
                 "modalities": {"inertial": {"sensor": "acc", "length": 32, "normalize": True}}},
        "model": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [4, 8], "depths": [1, 1]}},
        "optim": {"lr": 1e-3}, "train": {"epochs": 1, "batch_size": 16},
    }))
    return config


def test_train_with_an_unwritable_cache_dir_warns_once(synth_utd, tmp_path, monkeypatch, capsys):
    import harkd.data.cache as cache_module

    monkeypatch.setattr(cache_module, "_unwritable", {})
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("HARKD_CACHE_DIR", str(blocker))
    assert cli_main.main(["train", str(tiny_train_config(tmp_path, synth_utd, cache=True))]) == 0
    err = capsys.readouterr().err
    cache_lines = [line for line in err.splitlines() if "preprocessing cache" in line]
    assert cache_lines == [f"harkd: warning: preprocessing cache {blocker} cannot be written ({blocker} is a file, "
                           "not a directory); going on without the disk cache, new entries are kept in memory only "
                           "(set HARKD_CACHE_DIR to a writable directory, or data.cache: false)"]
    assert "Traceback" not in err and blocker.read_text().startswith("a file")


# -------------------------------------------------------------- closed std streams
def shell(command: str) -> subprocess.CompletedProcess:
    """``command`` in bash, ``HARKD`` standing for this checkout's ``python -m harkd``."""
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(["bash", "-c", command.replace("HARKD", f"{sys.executable} -m harkd")],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("command, out", [
    ("HARKD --version >&-", ""),
    ("HARKD --version 2>&-", f"harkd {harkd.__version__}\n"),
    ("HARKD --version >&- 2>&- <&-", ""),
    ("HARKD data info --root {root} --json --val-subjects none >&-", ""),  # 16 KB into a closed stdout
    ("HARKD data info --root {root}/none 2>&-", ""),  # the error line goes nowhere, not to stdout
])
def test_closed_std_streams_are_quiet(tiny_root, command, out):
    proc = shell(command.format(root=tiny_root))
    assert (proc.stdout, proc.stderr) == (out, "")
    assert proc.returncode == (2 if "none 2" in command else 0)


def test_train_with_stdout_closed_runs_to_the_end(synth_utd, tmp_path):
    proc = shell(f"HARKD train {tiny_train_config(tmp_path, synth_utd, cache=False)} >&-")
    assert proc.returncode == 0 and proc.stdout == "" and "error" not in proc.stderr, proc.stderr
    assert "epoch 1/1" in proc.stderr and (tmp_path / "runs" / "tiny" / "best.pt").is_file()


# ------------------------------------------------------------------ out of memory
@pytest.mark.parametrize("allocate, asked", [
    (lambda: __import__("torch").empty(10**17), "an allocation of 400 PB"),  # torch's CPU allocator
    (lambda: __import__("numpy").empty((10**15, 100)), "Unable to allocate 711. PiB for an array with shape "
                                                       "(1000000000000000, 100) and data type float64"),
])
def test_an_allocation_beyond_the_machine_is_one_line(command, monkeypatch, allocate, asked):
    monkeypatch.delenv("HARKD_DEBUG", raising=False)
    assert command(allocate) == (1, "", f"harkd: error: not enough memory ({asked}): a size in the config or the "
                                        "options is too large for this machine; lower it (model widths, "
                                        "train.batch_size, data lengths / frames / sizes)\n")


# ------------------------------------------------------- warnings from Python code
def test_harkd_warnings_print_one_line_from_python_too():
    code = ("import warnings; from harkd.errors import warn; warn('a01_s1_t1: 3 samples interpolated'); "
            "warnings.warn('a library says so', UserWarning)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": SRC})
    assert proc.stderr.splitlines() == ["harkd: warning: a01_s1_t1: 3 samples interpolated",
                                        "<string>:1: UserWarning: a library says so"]  # others as Python shows them


def test_harkd_warnings_can_still_be_recorded_and_filtered():
    import warnings

    from harkd.errors import DataWarning

    with pytest.warns(DataWarning, match="^left out: empty file$"):
        warn("left out: empty file")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        with pytest.raises(DataWarning):
            warn("now an error")
    assert warnings.formatwarning("m", DataWarning, "x.py", 3) == "harkd: warning: m\n"
    assert warnings.formatwarning("m", UserWarning, "x.py", 3, "").startswith("x.py:3: UserWarning: m")
