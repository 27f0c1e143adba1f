"""The ``run`` fixture: call ``harkd`` in-process and capture its output."""

from __future__ import annotations

import pytest

import harkd.cli.main as cli_main


@pytest.fixture
def run(capsys):
    """Run ``harkd ARGV...``; returns (exit code, stdout, stderr)."""

    def _run(*argv):
        rc = cli_main.main(list(argv))
        out, err = capsys.readouterr()
        return rc, out, err

    return _run
