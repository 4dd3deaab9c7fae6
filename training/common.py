"""Data access, SQuAD metric, answer targets, BM25 and evaluation shared by the training modules (train.py,
span_stage.py, lexical.py, fixture.py, the analyses). Imports no pipeline step, so any module may import it."""
import collections
import math
import os
import re
import string

import torch

BOS, EOS, PAD = 101, 102, 0
NEG_LOGIT = -1.0e9      # a token outside the answer vocabulary (the Java runtime adds the same)


# ---------------------------------------------------------------- official SQuAD v1.1 metric
def normalize_answer(s):
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1_score(pred, gold):
    p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
    common = collections.Counter(p) & collections.Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    prec, rec = same / len(p), same / len(g)
    return 2 * prec * rec / (prec + rec)


def em_f1(preds, refs):
    em = sum(max(float(normalize_answer(p) == normalize_answer(g)) for g in r) for p, r in zip(preds, refs))
    f1 = sum(max(f1_score(p, g) for g in r) for p, r in zip(preds, refs))
    return 100.0 * em / len(preds), 100.0 * f1 / len(preds)


# ---------------------------------------------------------------- answer targets
def pick_answer(answers):
    """The training target among the references: the one given most often once normalised (ties: the shorter),
    as first written."""
    c = {}
    for a in answers:
        c.setdefault(normalize_answer(a), []).append(a)
    best = max(c.values(), key=lambda v: (len(v), -len(v[0])))
    return best[0]


def find_span(para_ids, ans_ids):
    """First position of ans_ids inside para_ids, or -1."""
    n = len(ans_ids)
    for j in range(1, len(para_ids) - n):
        if para_ids[j:j + n] == ans_ids:
            return j
    return -1


def locate_span(para_ids, ans_ids, max_len, grid):
    """(start, length) of the answer's tokens in the paragraph when the aggregator can name that span (at most
    `max_len` tokens, ending inside the memory's `grid` token positions), else None."""
    j = find_span(para_ids, ans_ids) if ans_ids else -1
    if j >= 0 and len(ans_ids) <= max_len and j + len(ans_ids) <= grid:
        return j, len(ans_ids)
    return None


# ---------------------------------------------------------------- features
class Features:
    def __init__(self, path):
        d = torch.load(path)
        self.paras, self.qs = d["paras"], d["qs"]
        self.P, self.Poff, self.Q, self.Qoff = d["P"], d["Poff"], d["Q"], d["Qoff"]

    def batch(self, which, idx):
        """(hidden [B, L, H], token ids [B, L], mask [B, L]) of paragraphs ("p") or questions ("q"), padded."""
        X, off, items = (self.P, self.Poff, self.paras) if which == "p" else (self.Q, self.Qoff, self.qs)
        lens = [int(off[i + 1] - off[i]) for i in idx]
        L = max(lens)
        h = torch.zeros(len(idx), L, X.size(1))
        ids = torch.zeros(len(idx), L, dtype=torch.long)
        m = torch.zeros(len(idx), L)
        for r, i in enumerate(idx):
            h[r, :lens[r]] = X[off[i]:off[i + 1]]
            ids[r, :lens[r]] = torch.tensor(items[i]["ids"])
            m[r, :lens[r]] = 1.0
        return h, ids, m


# ---------------------------------------------------------------- BM25 baseline
def bm25_rank(docs, queries, k1=0.9, b=0.4):
    tok = lambda s: re.findall(r"\w+", s.lower())  # noqa: E731
    dt = [collections.Counter(tok(d)) for d in docs]
    dl = [sum(c.values()) for c in dt]
    avg = sum(dl) / len(dl)
    df = collections.Counter(w for c in dt for w in c)
    N = len(docs)
    idf = {w: math.log(1 + (N - n + 0.5) / (n + 0.5)) for w, n in df.items()}
    out = []
    for q in queries:
        s = torch.zeros(N)
        for w in set(tok(q)):
            if w not in idf:
                continue
            for j, c in enumerate(dt):
                tf = c.get(w, 0)
                if tf:
                    s[j] += idf[w] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl[j] / avg))
        out.append(s)
    return torch.stack(out)


def recall_at(scores, gold, ks=(1, 5, 10)):
    rank = (scores > scores.gather(1, gold[:, None])).sum(1)
    return {f"recall@{k}": float((rank < k).float().mean()) for k in ks}


# ---------------------------------------------------------------- model runs
class Bound:
    """An exported head (torch.jit.load) with its de-quantised weights computed once (its `weights` method) and
    passed as the last input of every forward / step call, as the Java runtime does (docs/MODEL-CONTRACT.md)."""

    def __init__(self, head, like=None):
        self.head = head
        self.w = head.weights(torch.zeros(1) if like is None else like)

    def __call__(self, *args):
        return self.head(*args, self.w)

    def step(self, *args):
        return self.head.step(*args, self.w)


def load_heads(model_dir, info):
    """(E, compressor, aggregator, reader) of an exported model: the de-quantised word embeddings and the three
    heads bound to their de-quantised weights."""
    le, lc, la, lr = (torch.jit.load(os.path.join(model_dir, info["files"][n]))
                      for n in ("embeddings", "compressor", "aggregator", "reader"))
    return le(torch.zeros(1)), Bound(lc), Bound(la), Bound(lr)


@torch.no_grad()
def encode(compressor, emb, feats, which, idx, bs=64):
    mems, keys = [], []
    order = sorted(range(len(idx)), key=lambda r: int(
        (feats.Poff if which == "p" else feats.Qoff)[idx[r] + 1] - (feats.Poff if which == "p" else feats.Qoff)[idx[r]]))
    out_m, out_k = [None] * len(idx), [None] * len(idx)
    for s in range(0, len(order), bs):
        rows = order[s:s + bs]
        h, ids, m = feats.batch(which, [idx[r] for r in rows])
        mem, key = compressor(h, ids, m, emb)
        for j, r in enumerate(rows):
            out_m[r], out_k[r] = mem[j], key[j]
    return torch.stack(out_m), torch.stack(out_k)


@torch.no_grad()
def greedy(reader, emb, prompt, max_tokens, allowed=None):
    """Greedy decoding with the reader's key/value cache (same as the Java loop): `forward` reads prompt + [bos],
    then `step` adds one token at a time; finished rows leave the batch (results are unchanged). `allowed`
    [B, vocab] bool, when given, restricts each row's tokens (lexical.py, "answer vocabulary")."""
    B = prompt.size(0)
    out = [[] for _ in range(B)]
    active = list(range(B))
    logits, cache = reader(prompt, torch.full((B, 1), BOS, dtype=torch.long), emb)
    for t in range(1, max_tokens + 1):
        if allowed is not None:
            logits = logits.masked_fill(~allowed, NEG_LOGIT)
        nxt = logits.argmax(-1)
        keep = []
        for j, tok in enumerate(nxt.tolist()):
            if tok not in (EOS, PAD):
                out[active[j]].append(tok)
                keep.append(j)
        if not keep or t == max_tokens:
            break
        kt = torch.tensor(keep)
        active = [active[j] for j in keep]
        prompt = prompt[kt]
        allowed = None if allowed is None else allowed[kt]
        logits, cache = reader.step(prompt, nxt[kt][:, None], torch.tensor([t]), cache[:, kt], emb)
    return out


@torch.no_grad()
def answer(aggregator, reader, emb, qmem, memories, scores, present, max_tokens, bs=128, allowed=None):
    outs = []
    for s in range(0, qmem.size(0), bs):
        prompt = aggregator(qmem[s:s + bs], memories[s:s + bs], scores[s:s + bs], present[s:s + bs])
        outs.extend(greedy(reader, emb, prompt, max_tokens, None if allowed is None else allowed[s:s + bs]))
    return outs


@torch.no_grad()
def evaluate(comp, agg, reader, emb, feats, tok, split, ks=(1, 2, 3, 5), max_tokens=24, qa=True, limit=None):
    pidx = [i for i, p in enumerate(feats.paras) if p["split"] == split]
    qidx = [i for i, q in enumerate(feats.qs) if q["split"] == split]
    if limit:
        qidx = qidx[:limit]
    pos = {p: r for r, p in enumerate(pidx)}
    gold = torch.tensor([pos[feats.qs[i]["para"]] for i in qidx])
    pm, pk = encode(comp, emb, feats, "p", pidx)
    qm, qk = encode(comp, emb, feats, "q", qidx)
    S = qk @ pk.t()
    res = {"paragraphs": len(pidx), "questions": len(qidx)}
    res["cmt_matching"] = recall_at(S, gold)
    if not qa:
        return res
    refs = [feats.qs[i]["answers"] for i in qidx]
    n = len(qidx)
    preds = {}
    zero = torch.zeros(n, 1, pm.size(1), pm.size(2))
    preds["closed_book"] = answer(agg, reader, emb, qm, zero, torch.zeros(n, 1), torch.zeros(n, 1), max_tokens)
    preds["oracle"] = answer(agg, reader, emb, qm, pm[gold][:, None], S.gather(1, gold[:, None]), torch.ones(n, 1), max_tokens)
    for k in ks:
        sc, ix = S.topk(k, dim=1)
        preds[f"cmt_k{k}"] = answer(agg, reader, emb, qm, pm[ix], sc, torch.ones(n, k), max_tokens)
    texts = {}
    for name, ids in preds.items():
        texts[name] = [tok.decode(x) for x in ids]
        em, f1 = em_f1(texts[name], refs)
        res[name] = {"EM": round(em, 2), "F1": round(f1, 2)}
    res["_texts"] = texts
    res["_qidx"] = qidx
    return res


def baselines(feats, split):
    pidx = [i for i, p in enumerate(feats.paras) if p["split"] == split]
    qidx = [i for i, q in enumerate(feats.qs) if q["split"] == split]
    pos = {p: r for r, p in enumerate(pidx)}
    gold = torch.tensor([pos[feats.qs[i]["para"]] for i in qidx])
    bm = bm25_rank([feats.paras[i]["text"] for i in pidx], [feats.qs[i]["question"] for i in qidx])
    pc = torch.nn.functional.normalize(torch.stack([feats.P[feats.Poff[i]] for i in pidx]), dim=-1)
    qc = torch.nn.functional.normalize(torch.stack([feats.Q[feats.Qoff[i]] for i in qidx]), dim=-1)
    return {"bm25": recall_at(bm, gold), "bge_cls_untuned": recall_at(qc @ pc.t(), gold)}
