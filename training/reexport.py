"""Re-traces the bundled model's heads in the cmt-model/3 form without retraining.

cmt-model/2 heads de-quantised their int8 weight matrices inside every forward / step call; cmt-model/3 heads have
a `weights(like)` method that returns them de-quantised once, as one flat float vector, which the caller passes
as the last input of every call (docs/MODEL-CONTRACT.md, training/model.py `Head`). The weights themselves do not
change: this script loads the exported TorchScript files, copies their state (int8 matrices, scales, biases,
norms) into the eager modules of training/model.py, traces those in the new form, checks that the new files give
the old files' outputs on inputs from the feature cache (real backbone states of SQuAD paragraphs and questions,
training/cache/features.pt; random inputs when the cache is missing), and writes them back in place. model.json
only gets the new format; embeddings.pt is not touched.

    /usr/bin/python3 -m training.reexport [--model models/cmt-bge-small-squad] [--cache training/cache]
"""
import argparse
import hashlib
import json
import os
import sys
import time

import torch

from training.bundle import FORMAT, check_traces, eager_heads, load_state, trace_heads
from training.common import EOS, BOS, PAD, Features

HEADS = ("compressor", "aggregator", "reader")


class Called:
    """A loaded head called the way its format wants it: cmt-model/2 without weights, /3 with its own."""

    def __init__(self, module):
        self.m = module
        self.w = (module.weights(torch.zeros(1)),) if hasattr(module, "weights") else ()

    def __call__(self, *args):
        return self.m(*args, *self.w)

    def step(self, *args):
        return self.m.step(*args, *self.w)


def inputs(cache, info, n=48):
    """(paragraph batches, question batches) of (hidden, ids, mask): real backbone states from the feature cache
    (validation split), or random ones of the same shapes when there is no cache."""
    path = os.path.join(cache, "features.pt")
    H = info["dims"]["hidden"]
    if os.path.exists(path):
        feats = Features(path)
        ps = [i for i, p in enumerate(feats.paras) if p["split"] == "validation"][:n]
        qs = [i for i, q in enumerate(feats.qs) if q["split"] == "validation"][:n]
        pb = [feats.batch("p", ps[i:i + 16]) for i in range(0, len(ps), 16)]
        qb = [feats.batch("q", qs[i:i + 16]) for i in range(0, len(qs), 16)]
        return pb, qb, "validation paragraphs/questions from " + path
    print(f"WARNING: no {path}: checking on random inputs", flush=True)
    torch.manual_seed(3)

    def rnd(B, L):
        m = torch.ones(B, L)
        m[0, L // 2:] = 0
        ids = torch.randint(1000, 5000, (B, L))
        ids[:, 0] = BOS
        return torch.randn(B, L, H), ids * m.long(), m

    return [rnd(16, 180), rnd(16, 120)], [rnd(16, 14), rnd(16, 20)], "random inputs"


@torch.no_grad()
def compare(old, new, E, pb, qb, max_tokens):
    """max |old - new| per head (compressor: memory and key; aggregator: prompt for k = 1, 3 and closed book;
    reader: logits and cache of prefill and of every step of greedy decoding) and whether greedy answers agree."""
    worst = dict.fromkeys(HEADS, 0.0)

    def d(head, a, b):
        worst[head] = max(worst[head], float((a - b).abs().max()))

    pm, pk, qm, qk = [], [], [], []
    for batches, mems, keys in ((pb, pm, pk), (qb, qm, qk)):
        for h, ids, m in batches:
            (mo, ko), (mn, kn) = old["compressor"](h, ids, m, E), new["compressor"](h, ids, m, E)
            d("compressor", mo, mn)
            d("compressor", ko, kn)
            mems.append(mo)
            keys.append(ko)
    pm, pk, qm, qk = torch.cat(pm), torch.cat(pk), torch.cat(qm), torch.cat(qk)
    S = qk @ pk.t()
    n = qm.size(0)
    answers_same, answers = 0, 0
    cases = [(pm[S.topk(k, 1)[1]], S.topk(k, 1)[0], torch.ones(n, k)) for k in (1, 3)]
    cases.append((torch.zeros(n, 1, *qm.shape[1:]), torch.zeros(n, 1), torch.zeros(n, 1)))
    for mem, sc, pr in cases:
        po, pn = old["aggregator"](qm, mem, sc, pr), new["aggregator"](qm, mem, sc, pr)
        d("aggregator", po, pn)
        bos = torch.full((n, 1), BOS, dtype=torch.long)
        (lo, co), (ln, cn) = old["reader"](po, bos, E), new["reader"](po, bos, E)
        d("reader", lo, ln)
        d("reader", co, cn)
        seq_o, seq_n = [lo.argmax(-1)], [ln.argmax(-1)]
        for t in range(1, max_tokens):
            tok = seq_o[-1][:, None]
            (lo, co), (ln, cn) = (old["reader"].step(po, tok, torch.tensor([t]), co, E),
                                  new["reader"].step(po, tok, torch.tensor([t]), cn, E))
            d("reader", lo, ln)
            d("reader", co, cn)
            seq_o.append(lo.argmax(-1))
            seq_n.append(ln.argmax(-1))

        def cut(seq):
            out = []
            for x in seq:
                if x in (EOS, PAD):
                    break
                out.append(x)
            return out

        so, sn = torch.stack(seq_o, 1).tolist(), torch.stack(seq_n, 1).tolist()
        answers += n
        answers_same += sum(cut(a) == cut(b) for a, b in zip(so, sn))
    return worst, answers_same, answers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/cmt-bge-small-squad")
    ap.add_argument("--cache", default="training/cache")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    t0 = time.time()
    json_path = os.path.join(args.model, "model.json")
    info = json.load(open(json_path))
    paths = {n: os.path.join(args.model, info["files"][n]) for n in ("embeddings",) + HEADS}
    E = torch.jit.load(paths["embeddings"])(torch.zeros(1))
    traced = {n: torch.jit.load(paths[n]) for n in HEADS}
    eager, hard = eager_heads(info)
    for n in HEADS:
        keys = load_state(eager[n], traced[n], n)
        print(f"{n}: {keys} tensors loaded from {paths[n]} ({info['format']}); "
              f"{eager[n].weights_size()} weight floats in {len(eager[n].qlinears())} matrices", flush=True)
    print(f"aggregator hard={hard}", flush=True)

    M, P = info["dims"]["memoryTokens"], info["dims"]["softPrompt"]
    tc, ta, tr = trace_heads(eager["compressor"], eager["aggregator"], eager["reader"], E, M, P)
    worst_eager = check_traces(eager["compressor"], eager["aggregator"], eager["reader"], tc, ta, tr, E, M, P)
    print(f"trace check max |eager - traced| = {worst_eager:.2e}", flush=True)
    assert worst_eager < 1e-3, worst_eager

    # round trip through files, then the new files against the old ones
    tmp = {n: paths[n] + ".new" for n in HEADS}
    for n, t in zip(HEADS, (tc, ta, tr)):
        t.save(tmp[n])
    new = {n: Called(torch.jit.load(tmp[n])) for n in HEADS}
    assert all(hasattr(m.m, "weights") for m in new.values())
    old = {n: Called(traced[n]) for n in HEADS}
    pb, qb, what = inputs(args.cache, info)
    worst, same, total = compare(old, new, E, pb, qb, info["maxAnswerTokens"])
    print(f"on {what}:", flush=True)
    for n in HEADS:
        print(f"  {n}: max |old - new| = {worst[n]:.2e}", flush=True)
    print(f"  greedy answers identical: {same}/{total}", flush=True)
    if max(worst.values()) > args.tolerance or same != total:
        for p in tmp.values():
            os.remove(p)
        sys.exit(f"the re-traced heads differ from the bundled ones (tolerance {args.tolerance}); nothing written")

    sizes = {}
    for n in HEADS:
        sizes[n] = (os.path.getsize(paths[n]), os.path.getsize(tmp[n]))
        os.replace(tmp[n], paths[n])
    info["format"] = FORMAT
    info["readerScoresAmong"] = True      # trace_heads gives the reader forward_among / step_among
    # the version names the files: same weights, new graphs, so a new hash (the lexical suffix stays)
    h = hashlib.sha256()
    for n in ("embeddings",) + HEADS:
        h.update(open(paths[n], "rb").read())
    date, rest = info["version"][:10], info["version"][10:]
    info["version"] = date + "-" + h.hexdigest()[:8] + rest[9:]
    with open(json_path, "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    total_bytes = sum(os.path.getsize(p) for p in paths.values())
    for n, (a, b) in sizes.items():
        print(f"wrote {paths[n]}: {a} -> {b} bytes", flush=True)
    print(f"wrote {json_path} (format {FORMAT}); bundle {total_bytes} bytes ({total_bytes / 2**20:.2f} MiB); "
          f"{time.time() - t0:.0f}s", flush=True)
    assert total_bytes <= 20 * 2**20, total_bytes


if __name__ == "__main__":
    main()
