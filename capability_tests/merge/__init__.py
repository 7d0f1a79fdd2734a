"""Beyond one machine: `capability-tests merge` combines the runs of `--shard I/N` (see
`capability_tests.shard_plan` and docs/SCALING.md) into one store and one run folder.

- `runs`: the shard runs read back and checked (agreement, disjoint, complete);
- `stores`: their samples copied into the merged store (incremental);
- `command`: the merged run folder and the console command.
"""
