"""The ``deeplens`` command imports only the verb it runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deeplens.cli.main import VERBS, build_parser, requested_verb


def test_the_verb_is_the_first_word_after_the_top_level_flags():
    assert requested_verb(["-v", "ingest", "data", "--wait"]) == "ingest"


def test_no_verb_or_an_unknown_word_names_none():
    assert requested_verb(["--help"]) is None
    assert requested_verb(["frobnicate"]) is None


def test_every_verb_registers_under_its_own_name():
    parser = build_parser()
    for verb in VERBS:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([verb, "--help"])
        assert exit_info.value.code == 0


def test_running_one_verb_does_not_import_the_others():
    code = (
        "import sys\n"
        "from deeplens.cli.main import main\n"
        "try:\n    main(['appearances', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('deeplens.cli.serve', 'deeplens.cli.ingest', 'fastapi') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "[]"
