"""Every failedCode loadbay can answer is listed, with its status and meaning, in /docs."""

from __future__ import annotations

import re
from pathlib import Path

from loadbay.api import create_app
from loadbay.apidocs.failed_codes import CODES

SRC = Path(__file__).resolve().parents[2] / "src" / "loadbay"
CODE = re.compile(
    r"[\"']((?:auth|data|datatype|hub|flow|task|import|export|file|webhook|request|server)-\d{3})[\"']"
)


def codes_in_src() -> set[str]:
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        if "apidocs" not in path.relative_to(SRC).parts:
            found |= set(CODE.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_code_raised_in_src_is_listed() -> None:
    used = codes_in_src()
    assert len(used) > 30  # the grep finds them
    assert not used - set(CODES), f"undocumented failedCodes: {sorted(used - set(CODES))}"


def test_the_wave_2_codes_are_listed() -> None:
    for code in (
        "import-041",
        "request-031",
        "import-040",
        "import-015",
        "server-036",
        "server-045",
    ):
        assert code in CODES


def test_the_docs_page_lists_every_code() -> None:
    description = create_app(run_migrations=False).openapi()["info"]["description"]
    for code, (status, meaning) in CODES.items():
        assert f"| `{code}` | {status} | {meaning} |" in description
    assert "| `-033` |" in description  # the generic suffixes, for codes built from the path
