"""Reports read per-problem results (never the engine) and write tables and files."""
