"""The one progress bar of long phases (sampling, perplexity scoring): samples done of total,
tokens/s and ETA, only when wanted (a terminal, no -q) and when there is work."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int, desc: str):
    """A tqdm bar (a maintained progress bar, not a hand-rolled one), or None."""
    if not enabled or total == 0:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="sample", dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()
