"""Progress reporting, one convention for every long loop in accelsim.

A reporter is any callable `progress(items, description) -> iterable` that yields
`items` unchanged (showing a bar, logging, or nothing). Library functions take
`progress=None`, meaning no report; the CLI passes `tqdm_progress`.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

Progress = Callable[[Iterable, str], Iterable]


def no_progress(items, description):
    return items


def tqdm_progress(items, description):
    from tqdm import tqdm

    # disable=None: tqdm switches itself off when stderr is not a terminal; leave=False: a
    # finished bar is erased, so the bars of nested and successive loops do not pile up.
    return tqdm(items, desc=description, disable=None, leave=False)


@dataclass(frozen=True)
class Counted:
    """Items that arrive one at a time (futures as they complete), with their number known
    beforehand: len() lets a reporter show the total."""
    items: Iterable
    total: int

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return self.total
