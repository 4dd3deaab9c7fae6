"""Second training stage: the aggregator's question-aware span scorer (model.SpanScorer), everything else frozen.

The first stage (train.py) trains compressor, aggregator and reader together, but its span scorer (one
cross-attention and bilinear start / end scorers) picks the gold span too rarely: on validation, copying the exact
tokens of its chosen span would give only F1 14 with matching and 18 with the gold paragraph, so the scorer, not the
reader, bounds the answers. With compressor, decompressor and reader frozen the memories are fixed, so this stage
trains a deeper scorer on the span loss alone, cheaply: the reader already reads prompts built from a single span
(gold-span forcing in the first stage), and the prompt is built from the scorer's chosen span in the same way.

Runs inside train.py (`train_span_scorer`), or on an exported bundle for experiments:
    /usr/bin/python3 -m training.span_stage --model models/cmt-bge-small-squad --minutes 10
"""
import argparse
import json
import math
import os
import random
import time

import torch
import torch.nn.functional as F

from training.bundle import eager_heads, load_state
from training.common import Features, em_f1, encode, locate_span, pick_answer
from training.model import key_bias
from training.wordpiece import WordPiece

SCORER = {"w": 128, "heads": 4, "ffn": 256, "layers": 2, "fw": 64, "fuse": 1}


class Fixed:
    """What the frozen first stage gives every paragraph and question of a split: decompressed memory tokens and
    their attention bias, keys; decompressed question tokens and their bias; each question's paragraph row."""

    @torch.no_grad()
    def __init__(self, comp, agg, E, feats, split):
        self.pidx = [i for i, p in enumerate(feats.paras) if p["split"] == split]
        self.qidx = [i for i, q in enumerate(feats.qs) if q["split"] == split]
        pm, self.pk = encode(comp, E, feats, "p", self.pidx)
        qm, self.qk = encode(comp, E, feats, "q", self.qidx)
        self.v, self.bias = agg.dec(pm), key_bias(agg.dec.codes(pm))
        qm = qm[:, : agg.q_tokens // agg.dec.c]
        self.qv, _ = agg.question(qm)
        self.qbias = agg.question_bias(qm)
        pos = {p: r for r, p in enumerate(self.pidx)}
        self.gold = torch.tensor([pos[feats.qs[i]["para"]] for i in self.qidx])


def batches(rng, fixed, feats, spans, paras_per_article, q_per_para):
    """Endless (paragraph rows, question rows) of 2 training articles, as in the first stage."""
    arts = {}
    for r, qi in enumerate(fixed.qidx):
        arts.setdefault(feats.paras[feats.qs[qi]["para"]]["article"], {}).setdefault(
            int(fixed.gold[r]), []).append(r)
    names = sorted(arts)
    weights = [sum(len(v) for v in arts[n].values()) for n in names]
    while True:
        chosen = set()
        while len(chosen) < 2:
            chosen.add(rng.choices(names, weights)[0])
        prow, qrow = [], []
        for a in sorted(chosen):
            ps = list(arts[a])
            rng.shuffle(ps)
            for p in ps[:paras_per_article]:
                qs = [r for r in arts[a][p] if fixed.qidx[r] in spans]
                rng.shuffle(qs)
                qrow.extend(qs[:q_per_para])
                prow.append(p)
        yield prow, qrow


def span_targets(agg, fixed, spans, qrow, ix, gold):
    """The flat span index of each question's gold span in its memories, or the null option when the gold paragraph
    is not among them."""
    N, S = agg.n, agg.s
    null = ix.size(1) * N * S
    cols = []
    for r, q in enumerate(qrow):
        slot = (ix[r] == gold[r]).nonzero()
        if len(slot):
            j, n = spans[fixed.qidx[q]]
            cols.append(int(slot[0]) * N * S + j * S + (n - 1))
        else:
            cols.append(null)
    return torch.tensor(cols)


@torch.no_grad()
def validate(agg, fixed, feats, tok, k=1, bs=64):
    """(EM, F1) on a split of the exact paragraph tokens of the chosen span (what a perfect copy would answer),
    with the top-k matched memories: the quantity this stage improves, cheap enough to check during training."""
    S = fixed.qk @ fixed.pk.t()
    sc, ix = S.topk(k, dim=1)
    preds = []
    x, xq = agg.scorer.memory_side(fixed.v, fixed.bias)
    for s in range(0, len(fixed.qidx), bs):
        b = slice(s, s + bs)
        m = ix[b]
        logp = agg.scored_spans(x[m], xq[m], fixed.bias[m], fixed.v[m], fixed.qv[b], fixed.qbias[b], sc[b],
                                torch.ones_like(sc[b]))
        for r, a in enumerate(logp.argmax(1).tolist()):
            if a == logp.size(1) - 1:
                preds.append("")
                continue
            m, rest = divmod(a, agg.n * agg.s)
            j, n = divmod(rest, agg.s)
            ids = feats.paras[fixed.pidx[int(ix[s + r, m])]]["ids"]
            preds.append(tok.decode(ids[j:j + n + 1]))
    return em_f1(preds, [feats.qs[i]["answers"] for i in fixed.qidx])


def train_span_scorer(comp, agg, E, feats, tok, spans, seed, minutes, lr=1e-3, max_k=3, force=0.5, warmup=30,
                      eval_every=100, paras_per_article=12, q_per_para=3, scorer=None, log=print):
    """(a copy of `agg` with a trained second-stage span scorer, a summary for model.json). `spans` maps a training
    question to its gold (start, length) in its paragraph's tokens; comp and agg stay frozen."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    scorer = scorer or SCORER
    agg = agg.with_scorer(scorer)
    for p in list(comp.parameters()) + list(agg.parameters()):
        p.requires_grad_(False)
    for p in agg.scorer.parameters():
        p.requires_grad_(True)
    t0 = time.time()
    train = Fixed(comp, agg, E, feats, "train")
    val = Fixed(comp, agg, E, feats, "validation")
    log(f"span stage: fixed inputs in {time.time() - t0:.0f}s")
    params = list(agg.scorer.parameters())
    opt = torch.optim.AdamW(params, lr=lr / warmup, weight_decay=0.01)
    best, best_state, step = (-1.0, -1.0), None, 0
    it = batches(rng, train, feats, spans, paras_per_article, q_per_para)
    t0 = time.time()
    budget = minutes * 60
    while True:
        agg.scorer.train()
        prow, qrow = next(it)
        pr = torch.tensor(prow)
        qr = torch.tensor(qrow)
        pos = {p: c for c, p in enumerate(prow)}
        gold = torch.tensor([pos[int(train.gold[q])] for q in qrow])
        x, xq = agg.scorer.memory_side(train.v[pr], train.bias[pr])
        sim = train.qk[qr] @ train.pk[pr].t()
        k = rng.randint(1, max_k)
        sc, ix = sim.topk(k, dim=1)
        has = (ix == gold[:, None]).any(1)
        repl = (torch.rand(len(qrow)) < force) & ~has
        ix[repl, -1] = gold[repl]
        sc = sim.gather(1, ix)
        sc, order = sc.sort(dim=1, descending=True)
        ix = ix.gather(1, order)
        logp = agg.scored_spans(x[ix], xq[ix], train.bias[pr][ix], train.v[pr][ix], train.qv[qr], train.qbias[qr],
                                sc, torch.ones_like(sc))
        loss = F.nll_loss(logp, span_targets(agg, train, spans, qrow, ix, gold))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        # cosine decay over the time budget rather than a step count: the budget is what is fixed
        elapsed = time.time() - t0
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed / budget)))
        last = elapsed > budget
        if step % 20 == 0:
            log(f"span step {step} loss {loss.item():.3f} k {k} B {len(qrow)} {elapsed:.0f}s")
        if (step and step % eval_every == 0) or last:
            agg.scorer.eval()
            em, f1 = validate(agg, val, feats, tok)
            log(f"  validation span copy EM {em:.2f} F1 {f1:.2f} (top-1 memory)")
            if (f1, em) > best:
                best = (f1, em)
                best_state = {n: t.detach().clone() for n, t in agg.scorer.state_dict().items()}
        step += 1
        if last:
            break
    agg.scorer.load_state_dict(best_state)
    agg.scorer.eval()
    log(f"span stage: {step} steps in {time.time() - t0:.0f}s; best validation span copy F1 {best[0]:.2f}")
    return agg, {"scorer": scorer, "steps": step, "seconds": round(time.time() - t0),
                 "validationSpanCopyF1": round(best[0], 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/cmt-bge-small-squad")
    ap.add_argument("--cache", default="training/cache")
    ap.add_argument("--backbone", default="target/backbone")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--save", default="")
    ap.add_argument("--layers", type=int, default=SCORER["layers"], help="memory-side self-attention blocks")
    a = ap.parse_args()
    torch.set_num_threads(2)
    info = json.load(open(os.path.join(a.model, "model.json")))
    heads, _ = eager_heads(info)
    for n in heads:
        load_state(heads[n], torch.jit.load(os.path.join(a.model, n + ".pt")), n)
    comp, agg = heads["compressor"], heads["aggregator"]
    E = torch.jit.load(os.path.join(a.model, "embeddings.pt"))(torch.zeros(1))
    feats = Features(os.path.join(a.cache, "features.pt"))
    tok = WordPiece(os.path.join(a.backbone, "bge-small-en-v1.5-tokenizer.json"))
    spans = {}
    for qi, q in enumerate(feats.qs):
        if q["split"] != "train":
            continue
        span = locate_span(feats.paras[q["para"]]["ids"], tok.tokenize(pick_answer(q["answers"])), agg.s, agg.n)
        if span:
            spans[qi] = span
    print(f"{len(spans)} training questions with a located span", flush=True)
    agg, _ = train_span_scorer(comp, agg, E, feats, tok, spans, a.seed, a.minutes,
                               scorer={**SCORER, "layers": a.layers}, log=lambda s: print(s, flush=True))
    if a.save:
        torch.save(agg.scorer.state_dict(), a.save)


if __name__ == "__main__":
    main()
