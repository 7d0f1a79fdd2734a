"""The run explorer: `index.html` in a run folder (and in a comparison's folder), a page that
opens from file:// with no server and no network. `write_explorer(run_dir)` builds it from what
the folder holds; see page.py for the layout and run_data.py for what is read."""

from capability_tests.reporting.explorer.page import write_compare_explorer, write_explorer
from capability_tests.reporting.explorer.run_data import ExplorerError

__all__ = ["ExplorerError", "write_compare_explorer", "write_explorer"]
