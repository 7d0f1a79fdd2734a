"""capability-tests extension example (docs/EXTENDING.md)."""
