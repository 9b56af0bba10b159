"""Reading the user's files: one clear error for every way a file can be bad, and limits.

Limits (stated here, enforced at read time, before anything is built from the data):
- a YAML or JSON text file (config, sweep, spec, manifest) is at most MAX_TEXT_BYTES;
- YAML aliases (`*name`) are refused: a few lines of them can stand for gigabytes
  (the "billion laughs"), and no accelsim file needs them;
- nesting deeper than MAX_DEPTH levels is refused (a parser would hit Python's
  recursion limit).
Values shown in messages are cut to a few dozen characters by `shown`.
"""

import json
import os
import reprlib
from pathlib import Path

import yaml

from ..errors import AccelsimError

MAX_TEXT_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60
_short.maxlist = _short.maxdict = _short.maxtuple = 6
_short.maxlevel = 2


def shown(value):
    """A short repr of a user's value for an error message."""
    return _short.repr(value)


# What a spreadsheet runs as a formula when a CSV cell starts with it (OWASP, "CSV
# injection"): results tables escape such cells, topology exports refuse such names.
FORMULA_START = tuple("=+-@\t\r")


def list_of(values, what, items):
    """`values` as a list, refusing the single value an API caller may pass by mistake (a
    string would otherwise be taken letter by letter)."""
    if isinstance(values, (str, bytes, os.PathLike)) or not isinstance(values, (list, tuple)):
        raise TypeError(f"{what} must be a list of {items}, got {shown(values)}")
    return list(values)


def read_text(path, where, error=AccelsimError):
    """The UTF-8 text of a user's file, or `error` naming `where` and what is wrong."""
    if "\x00" in str(path):
        raise error(f"{where}the path contains a NUL byte")
    path = Path(path)
    try:
        if path.is_dir():
            raise error(f"{where}is a directory, not a file")
        size = path.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise error(f"{where}is {size} bytes; the limit is {MAX_TEXT_BYTES}")
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise error(f"{where}file not found") from None
    except PermissionError:
        raise error(f"{where}permission denied") from None
    except UnicodeDecodeError as exc:
        raise error(f"{where}is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise error(f"{where}cannot be read ({exc.strerror or exc})") from None


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.YAMLError(f"YAML aliases are not supported (line {mark.line + 1})")
        return super().compose_node(parent, index)


def _depth(value, limit):
    """Nesting depth of parsed data, without recursion, stopping past `limit`."""
    stack, deepest = [(value, 1)], 0
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return deepest


def _check_depth(value, where, error):
    if _depth(value, MAX_DEPTH) > MAX_DEPTH:
        raise error(f"{where}nests deeper than {MAX_DEPTH} levels")
    return value


def parse_yaml(text, where, error=AccelsimError):
    try:
        return _check_depth(yaml.load(text, Loader=_NoAliasLoader), where, error)
    except yaml.YAMLError as exc:
        raise error(f"{where}not valid YAML ({str(exc).splitlines()[0]})") from None
    except RecursionError:
        raise error(f"{where}nests deeper than {MAX_DEPTH} levels") from None


def load_yaml(path, where, error=AccelsimError):
    return parse_yaml(read_text(path, where, error), where, error)


def load_json(path, where, error=AccelsimError):
    text = read_text(path, where, error)
    try:
        return _check_depth(json.loads(text), where, error)
    except json.JSONDecodeError as exc:
        raise error(f"{where}not valid JSON ({exc})") from None
    except RecursionError:
        raise error(f"{where}nests deeper than {MAX_DEPTH} levels") from None
