"""Progress reporting, one convention for every long loop in accelsim.

A reporter is any callable `progress(items, description) -> iterable` that yields
`items` unchanged (showing a bar, logging, or nothing). Library functions take
`progress=None`, meaning no report; the CLI passes `tqdm_progress`.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Progress(Protocol):
    """A progress reporter: `progress(items, description)` yields `items` unchanged while
    it shows a bar, logs, or does nothing. Pass one as `progress=` to any accelsim function
    with a long loop (None: no report)."""

    def __call__(self, items: Iterable[T], description: str) -> Iterable[T]: ...


def no_progress(items: Iterable[T], description: str) -> Iterable[T]:
    """The reporter that reports nothing: `items` as they are."""
    return items


def tqdm_progress(items: Iterable[T], description: str) -> Iterable[T]:
    """A tqdm bar on stderr, labelled `description`; off when stderr is not a terminal."""
    from tqdm import tqdm

    # disable=None: tqdm switches itself off when stderr is not a terminal; leave=False: a
    # finished bar is erased, so the bars of nested and successive loops do not pile up.
    return tqdm(items, desc=description, disable=None, leave=False)


@dataclass(frozen=True)
class Counted:
    """Items that arrive one at a time (futures as they complete), with their number known
    beforehand: len() lets a reporter show the total."""
    items: Iterable[Any]
    total: int

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __len__(self) -> int:
        return self.total
