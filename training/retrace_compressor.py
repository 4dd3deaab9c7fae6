"""Re-traces a bundle's compressor.pt with the current training/model.py, weights unchanged.

A compressor traced before token_grid was made device-free holds tensors pinned to the CPU
(`torch.ones_like(..., device=torch.device("cpu"))`, `torch.arange(256, ..., device=torch.device("cpu"))`), which
make it fail on a GPU. This loads its weights into the eager Compressor, traces it as training/bundle.py's
trace_heads does, checks that the new trace gives the old one's outputs exactly on several shapes and pins nothing,
and (with --write) replaces the file:

    /usr/bin/python3 -m training.retrace_compressor [MODEL_DIR] [--write]

The weights, and so model.json's version and the parity fixture, stay as they were.
"""
import argparse
import json
import os
import sys

import torch

from training.bundle import LIKE, load_state, parse_args
from training.model import Compressor

PINNED = 'torch.device("cpu")'


def pinned(traced):
    return PINNED in traced.forward.code or PINNED in traced.weights.code


def retrace(old, emb, hidden=384):
    """The compressor `old` (a loaded trace) traced again from the eager module with its weights."""
    # the trainer's defaults (memory 32, chunk 8) are the bundle's; load_state refuses weights of other shapes
    hp = vars(parse_args([]))
    comp = Compressor(m=hp["memory"], c=hp["chunk"], vocab=emb.shape[0], d=hidden)
    load_state(comp, old, "compressor")
    torch.manual_seed(0)
    h, ids, mask = torch.randn(3, 11, hidden), torch.randint(1000, 5000, (3, 11)), torch.ones(3, 11)
    mask[1, 7:] = 0
    return torch.jit.trace_module(comp, {"forward": (h, ids, mask, emb, comp.weights(LIKE)), "weights": (LIKE,)},
                                  check_trace=False)


def max_difference(old, new, emb, hidden=384):
    torch.manual_seed(1)
    worst = 0.0
    with torch.no_grad():
        for B, L in ((1, 5), (5, 40), (2, 256)):
            h, ids, mask = torch.randn(B, L, hidden), torch.randint(1000, 29000, (B, L)), torch.ones(B, L)
            mask[0, L // 2 + 1:] = 0
            for x, y in zip(old(h, ids, mask, emb, old.weights(LIKE)), new(h, ids, mask, emb, new.weights(LIKE))):
                worst = max(worst, float((x - y).abs().max()))
    return worst


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?", default="models/cmt-bge-small-squad")
    ap.add_argument("--write", action="store_true", help="replace compressor.pt (else only check)")
    args = ap.parse_args(argv)
    with open(os.path.join(args.model, "model.json")) as f:
        files = json.load(f)["files"]
    path = os.path.join(args.model, files["compressor"])
    old = torch.jit.load(path)
    emb = torch.jit.load(os.path.join(args.model, files["embeddings"]))(LIKE)
    new = retrace(old, emb)
    worst = max_difference(old, new, emb)
    print(f"{path}: pins tensors to the CPU: {pinned(old)}; re-traced: {pinned(new)}; max |old - new| {worst}")
    if worst != 0 or pinned(new):
        raise SystemExit("the re-traced compressor is not the same function, or still pins tensors")
    if args.write:
        new.save(path)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
