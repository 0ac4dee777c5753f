"""How fast this machine is right now: validate one 5,000-row chunk of the bench file.

    .venv/bin/python bench/cpu_probe.py [LOCALE]   # e.g. id-ID: the locale-aware converters

Prints the best of 30 runs in ms. On the shared 2-core machines loadbay is measured on,
the same code took from 22 ms to 43 ms within one evening; bench/RESULTS.md gives this
figure next to each run so runs can be compared.
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import FIELDS, HEADERS, rows


def main() -> None:
    from loadbay.catalog.fields import parse_fields
    from loadbay.imports.target import Target
    from loadbay.imports.validate import compile_batch_validator

    specs = tuple(parse_fields(FIELDS))
    target = Target("datasource", "probe", "Outlet", specs, True)
    from loadbay.catalog.locales import ValueLocale

    locale = ValueLocale.of(sys.argv[1]) if len(sys.argv) > 1 else None
    columns = {s.id: i for i, s in enumerate(specs)}
    validate = compile_batch_validator(target, HEADERS, columns, (), locale=locale)
    blob = orjson.dumps([[i + 2, row, 0] for i, row in enumerate(rows(5_000))])
    gc.disable()
    best = float("inf")
    for _ in range(30):
        batch = orjson.loads(blob)
        started = time.perf_counter()
        validate(batch)
        best = min(best, time.perf_counter() - started)
    print(f"validate 5000 rows: {best * 1000:.1f} ms")


if __name__ == "__main__":
    main()
