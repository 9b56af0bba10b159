"""The error types accelsim raises for bad input: every one of them is defined here.

The CLI turns any AccelsimError into a one-line message and a non-zero exit
status; anything else is a bug and keeps its traceback.
"""


class AccelsimError(Exception):
    """Base class of every user-facing accelsim error."""


class TraceError(AccelsimError):
    """A trace directory is missing, truncated, corrupted or inconsistent."""


class ConfigError(AccelsimError):
    """A machine config (or synthetic spec) has a wrong key, type or value."""


class DataError(AccelsimError):
    """A data set is missing or malformed."""
