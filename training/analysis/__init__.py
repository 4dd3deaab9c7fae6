"""One-off analyses: scripts that read the bundle and the feature cache and print the figures docs/MODEL.md and
docs/BENCHMARKS.md quote; they write nothing the pipeline uses (python -m training.analysis.<name>)."""
