"""Accuracy cost of storing memory tokens in less than float32 (issue 7): the exported model answers the test
questions from its top-k memories with the memory tokens as float32, float16 (what the job's memory bank stores)
and int8 (one float32 scale per memory token row), everything else unchanged.

    /usr/bin/python3 -m training.analysis.storage_precision [--split test] [--model models/cmt-bge-small-squad]
"""
import argparse
import json
import os
import time

import torch

from training.common import Features, answer, em_f1, encode, load_heads
from training.wordpiece import WordPiece


def as_int8(mem):
    scale = mem.abs().amax(-1, keepdim=True).clamp_min(1e-8) / 127.0
    return torch.round(mem / scale).clamp(-127, 127) * scale


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/cmt-bge-small-squad")
    ap.add_argument("--cache", default="training/cache")
    ap.add_argument("--backbone", default="target/backbone")
    ap.add_argument("--split", default="test")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    info = json.load(open(os.path.join(args.model, "model.json")))
    E, lc, la, lr = load_heads(args.model, info)
    feats = Features(os.path.join(args.cache, "features.pt"))
    tok = WordPiece(os.path.join(args.backbone, info["backbone"]["tokenizerResource"]))
    pidx = [i for i, p in enumerate(feats.paras) if p["split"] == args.split]
    qidx = [i for i, q in enumerate(feats.qs) if q["split"] == args.split]
    refs = [feats.qs[i]["answers"] for i in qidx]
    pm, pk = encode(lc, E, feats, "p", pidx)
    qm, qk = encode(lc, E, feats, "q", qidx)
    k = info.get("defaultTopK", 1)
    sc, ix = (qk @ pk.t()).topk(k, dim=1)
    rows = {}
    for name, store in (("float32", lambda m: m), ("float16", lambda m: m.half().float()), ("int8", as_int8)):
        t0 = time.time()
        mem = store(pm)
        err = float(((mem - pm).norm() / pm.norm()))
        ids = answer(la, lr, E, store(qm), mem[ix], sc, torch.ones(len(qidx), k), info["maxAnswerTokens"])
        em, f1 = em_f1([tok.decode(x) for x in ids], refs)
        bytes_per_memory = {"float32": 4, "float16": 2, "int8": 1}[name] * pm.size(1) * pm.size(2) + \
            (4 * pm.size(1) if name == "int8" else 0)
        rows[name] = {"EM": round(em, 2), "F1": round(f1, 2), "relativeError": err, "bytes": bytes_per_memory}
        print(f"{name}: EM {em:.2f} F1 {f1:.2f} relative error {err:.2e} bytes/memory {bytes_per_memory} "
              f"({time.time() - t0:.0f}s)", flush=True)
    print(json.dumps({"split": args.split, "questions": len(qidx), "k": k, "model": info["version"],
                      "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
