"""Validation of nested mappings (parsed YAML) into frozen dataclasses.

Each dataclass field declares its constraints through `spec(...)`; `build`
walks a mapping, rejects unknown keys, wrong types and impossible values with
a message that names the dotted key, the value and what is allowed; `check`
holds an existing instance to the same specs (TrainConfig on construction).
Both raise the error class they are given: ConfigError unless told otherwise.
"""

import dataclasses
import math
import typing

from ..errors import ConfigError
from .inputs import shown

# No count, size or rate in a config needs more; beyond it int64 arithmetic could overflow.
MAX_INT = 2**40

_NO_DEFAULT = dataclasses.MISSING


def spec(default=_NO_DEFAULT, *, doc, minimum=None, exclusive_minimum=None, maximum=None,
         exclusive_maximum=None, choices=None, factory=None):
    """A dataclass field with its documentation and constraints."""
    metadata = dict(doc=doc, minimum=minimum, exclusive_minimum=exclusive_minimum,
                    maximum=maximum, exclusive_maximum=exclusive_maximum, choices=choices)
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _type_name(kind):
    origin = typing.get_origin(kind)
    if origin is list:
        return f"a list of {_type_name(typing.get_args(kind)[0])}"
    if origin is dict:
        return f"a mapping of names to {_type_name(typing.get_args(kind)[1])}"
    if origin is typing.Union:
        return " or ".join(_type_name(a) for a in typing.get_args(kind) if a is not type(None))
    if dataclasses.is_dataclass(kind):
        return f"a mapping with keys {', '.join(f.name for f in dataclasses.fields(kind))}"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string",
            dict: "a mapping"}.get(kind, kind.__name__)


def _fail(where, key, value, allowed, error=ConfigError):
    raise error(f"{where}{key} = {shown(value)} is invalid: must be {allowed}")


def _check_scalar(value, kind, meta, where, key, error=ConfigError):
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind in (int, float) and isinstance(value, bool) or not isinstance(value, kind):
        _fail(where, key, value, _type_name(kind) + _range_text(meta), error)
    if kind is float and not math.isfinite(value):
        _fail(where, key, value, "a finite number" + _range_text(meta), error)
    if kind is int and abs(value) > MAX_INT:
        _fail(where, key, value, f"an integer{_range_text(meta)} and at most 2**40 in magnitude",
              error)
    if meta.get("choices") is not None and value not in meta["choices"]:
        _fail(where, key, value, "one of " + ", ".join(repr(c) for c in meta["choices"]), error)
    low, low_open = meta.get("minimum"), meta.get("exclusive_minimum")
    high, high_open = meta.get("maximum"), meta.get("exclusive_maximum")
    if (low is not None and value < low) or (low_open is not None and value <= low_open) or (
            high is not None and value > high) or (high_open is not None and value >= high_open):
        _fail(where, key, value, _type_name(kind) + _range_text(meta), error)
    return value


def _range_text(meta):
    parts = []
    if meta.get("minimum") is not None:
        parts.append(f">= {meta['minimum']}")
    if meta.get("exclusive_minimum") is not None:
        parts.append(f"> {meta['exclusive_minimum']}")
    if meta.get("maximum") is not None:
        parts.append(f"<= {meta['maximum']}")
    if meta.get("exclusive_maximum") is not None:
        parts.append(f"< {meta['exclusive_maximum']}")
    if meta.get("choices") is not None:
        parts.append("one of " + ", ".join(repr(c) for c in meta["choices"]))
    return (" " + " and ".join(parts)) if parts else ""


def _convert(value, kind, meta, where, key, error=ConfigError):
    origin = typing.get_origin(kind)
    if origin is typing.Union:
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None:
            return None
        return _convert(value, options[0], meta, where, key, error)
    if dataclasses.is_dataclass(kind):
        return build(kind, value, where, prefix=f"{key}.", error=error)
    if origin is list:
        if not isinstance(value, list):
            _fail(where, key, value, _type_name(kind), error)
        (item_kind,) = typing.get_args(kind)
        return tuple(_convert(v, item_kind, meta, where, f"{key}[{i}]", error)
                     for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            _fail(where, key, value, _type_name(kind), error)
        _, item_kind = typing.get_args(kind)
        for k in value:
            if not isinstance(k, str):
                _fail(where, f"{key}.{k}", value[k], "under a string key", error)
        return {k: _convert(v, item_kind, meta, where, f"{key}.{k}", error)
                for k, v in value.items()}
    if kind is dict:
        if not isinstance(value, dict):
            _fail(where, key, value, "a mapping", error)
        return value
    return _check_scalar(value, kind, meta, where, key, error)


def build(cls, mapping, where="", prefix="", error=ConfigError):
    """Validate `mapping` against dataclass `cls`; return the instance."""
    if not isinstance(mapping, dict):
        raise error(f"{where}{prefix.rstrip('.') or 'the document'} must be "
                    f"{_type_name(cls)}, got {shown(mapping)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    hints = typing.get_type_hints(cls)
    for key in mapping:
        if not isinstance(key, str):
            raise error(f"{where}key {shown(key)} in '{prefix.rstrip('.') or 'the document'}'"
                        f" is not a string")
        if key not in fields:
            raise error(f"{where}unknown key '{prefix}{key}'; allowed keys here: "
                        f"{', '.join(sorted(fields))}")
    values = {}
    for name, fld in fields.items():
        if name in mapping:
            values[name] = _convert(mapping[name], hints[name], fld.metadata, where, prefix + name,
                                    error)
        elif fld.default is _NO_DEFAULT and fld.default_factory is _NO_DEFAULT:
            raise error(f"{where}missing key '{prefix}{name}': {fld.metadata.get('doc', '')}")
    return cls(**values)


def check(instance, where="", error=ConfigError):
    """Hold the spec'd fields of an existing dataclass instance to their specs (the values
    are checked, not converted)."""
    hints = typing.get_type_hints(type(instance))
    for fld in dataclasses.fields(instance):
        if "doc" in fld.metadata:
            _convert(getattr(instance, fld.name), hints[fld.name], fld.metadata, where, fld.name,
                     error)


def to_plain(obj):
    """Dataclass tree -> plain dicts and lists (for YAML/JSON sidecars)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj


def set_dotted(mapping, dotted_key, value, where=""):
    """Set `a.b.c` in a nested dict, creating nothing that did not exist but the last key."""
    if not isinstance(dotted_key, str):
        raise ConfigError(f"{where}override key {shown(dotted_key)} is not a string")
    *parents, last = dotted_key.split(".")
    node = mapping
    for i, part in enumerate(parents):
        if not isinstance(node.get(part), dict):
            raise ConfigError(f"{where}override '{dotted_key}': "
                              f"'{'.'.join(parents[:i + 1])}' is not a section of this config")
        node = node[part]
    node[last] = value
