"""Perplexity of recorded samples under another model (`capability-tests perplexity`).

The study's question: do the RL model's solutions already lie in the base model's distribution?
Each stored completion of a recorded run is scored under a scoring model (BASE), conditioned on
the prompt the run sampled it from; the scores are kept in the completion store, keyed by the
scoring model's fingerprint and engine, so a rerun scores nothing again. See
docs/ANALYSES.md ("Perplexity under another model").

Modules: `measure` (log-probabilities -> perplexity, distribution summaries), `recorded` (from a
run folder to its samples' prompts and texts), `scoring` (batched scoring through an engine, the
stored scores), `report` (perplexity.json and the plot), `command` (the subcommand).
"""
