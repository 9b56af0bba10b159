"""The public API is documented, and docs/api.md is what docs/make_api.py writes from it."""

import importlib.util
import inspect
from pathlib import Path

import accelsim

ROOT = Path(__file__).resolve().parents[1]


def test_every_public_name_has_a_docstring():
    # A dataclass without one gets "Name(field, ...)" from dataclasses: not documentation.
    missing = [name for name in accelsim.__all__
               if not inspect.cleandoc(getattr(accelsim, name).__doc__ or "").strip()
               or getattr(accelsim, name).__doc__.startswith(f"{name}(")]
    assert not missing, f"no docstring: {missing}"


def test_api_docs_are_current():
    spec = importlib.util.spec_from_file_location("make_api", ROOT / "docs" / "make_api.py")
    make_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_api)
    assert (ROOT / "docs" / "api.md").read_text() == make_api.api_markdown(), \
        "docs/api.md is stale: run python docs/make_api.py"
