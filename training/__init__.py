"""Offline training of the bundled model (models/cmt-bge-small-squad): one package, run from the repository root
with Debian's Python, one module per step, e.g. `/usr/bin/python3 -m training.late_reader eval`.

Pipeline steps (what train.sh runs, in order): extract, train (with span_stage as its optional second stage),
lexical, late_extract, late_reader, late_fixture, backbone_script; make_split wrote data/squad/split.json once; reexport
and fixture are the tools of the older cmt-model/3 bundle (re-tracing it in place, its parity fixture); gpu_bench times
the bundle's TorchScript files on a GPU (docs/BENCHMARKS.md).
Shared modules, which import no pipeline step: backbone, wordpiece, model, common, bundle.
analysis/ holds the one-off analyses (python -m training.analysis.<name>), which only print figures for docs/.
tests/ holds the unittest checks (`/usr/bin/python3 -m unittest discover -s training/tests -t .`).
"""
