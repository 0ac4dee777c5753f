"""The layer contract names every top-level module: one left out would escape the check."""

from __future__ import annotations

import configparser
import pkgutil
from pathlib import Path

import loadbay

CONTRACT = Path(__file__).resolve().parents[1] / ".importlinter"


def test_every_top_level_module_has_a_layer() -> None:
    config = configparser.ConfigParser()
    config.read(CONTRACT)
    layers = config["importlinter:contract:layers"]["layers"]
    listed = {
        name.strip()
        for line in layers.splitlines()
        for name in line.replace(":", "|").split("|")
        if name.strip()
    }
    modules = {m.name for m in pkgutil.iter_modules(loadbay.__path__)}
    assert modules - listed == set(), "place these in a layer of .importlinter"
    assert listed - modules == set(), "these layers name no module"
