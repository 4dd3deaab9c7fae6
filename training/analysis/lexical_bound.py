"""How much a lexical part could add to self-matching: validation recall of the bundled key beside lexical scores.

The bundled key carries its lexical evidence as a term-weighted bag of (projected) word embeddings inside the
384-d dense key (training/model.py, Compressor.key). This compares, on the validation split only (the test split is
not read), the bundled key with:
  * BM25 and the sum of the key's score and max-normalised BM25 (what an exact lexical part could add);
  * a bag of *whitened* word embeddings (the best a 384-d dense bag can separate token identities, no training);
  * a sparse key over WordPiece ids with the compressor's own learned term weights (exact token identity: what the
    memory bank would have to store and match beside the dense key), alone and added to the dense score;
  * BM25 over the same WordPiece ids (the weighting the sparse key lacks: saturating term frequency, length
    normalisation, query terms counted once), alone and added to the dense score.
Needs training/cache/features.pt (training/extract.py).

    /usr/bin/python3 -m training.analysis.lexical_bound
"""
import collections
import math
import os

import torch
import torch.nn.functional as F

from training.common import Features, bm25_rank, recall_at
from training.bundle import bundled_compressor


def main():
    torch.set_num_threads(2)
    ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
    comp, E = bundled_compressor(os.path.join(ROOT, "models", "cmt-bge-small-squad"))
    feats = Features(os.path.join(ROOT, "training", "cache", "features.pt"))

    # whitening of the word embeddings under the training paragraphs' token distribution
    count = collections.Counter(t for p in feats.paras if p["split"] == "train" for t in p["ids"])
    ids = torch.tensor(sorted(count))
    freq = torch.tensor([count[int(t)] for t in ids], dtype=torch.float)
    freq /= freq.sum()
    mu = (freq[:, None] * E[ids]).sum(0)
    ev, U = torch.linalg.eigh((freq[:, None] * (E[ids] - mu)).t() @ (E[ids] - mu))
    white = U @ torch.diag((ev + 1e-6 * ev.max()).rsqrt()) @ U.t()


    def keys(which, idx):
        """(bundled keys, whitened-bag vectors, sparse term vectors) of paragraphs or questions."""
        dense, bag, sparse = [], [], []
        for s in range(0, len(idx), 64):
            h, tid, m = feats.batch(which, idx[s:s + 64])
            with torch.no_grad():
                dense.append(comp.key(h, tid, m, E))
                w = comp.term_weights(h, tid, m)
                bag.append(F.normalize((w[..., None] * ((F.embedding(tid, E) - mu) @ white)).sum(1), dim=-1))
                for r in range(tid.size(0)):
                    v = torch.zeros(E.size(0)).index_add_(0, tid[r], w[r])
                    sparse.append(F.normalize(v, dim=0).to_sparse())
        return torch.cat(dense), torch.cat(bag), torch.stack(sparse)


    P = [i for i, p in enumerate(feats.paras) if p["split"] == "validation"]
    Q = [i for i, q in enumerate(feats.qs) if q["split"] == "validation"]
    pos = {p: r for r, p in enumerate(P)}
    gold = torch.tensor([pos[feats.qs[q]["para"]] for q in Q])
    pd, pb, ps = keys("p", P)
    qd, qb, qs = keys("q", Q)
    dense = qd @ pd.t()
    sparse = torch.sparse.mm(qs, ps.to_dense().t())
    bm = bm25_rank([feats.paras[i]["text"] for i in P], [feats.qs[i]["question"] for i in Q])
    bm = bm / bm.amax(1, keepdim=True).clamp_min(1e-6)


    def wordpiece_bm25(k1=0.9, b=0.4):
        docs = [collections.Counter(t for t in feats.paras[i]["ids"] if t not in (101, 102)) for i in P]
        length = torch.tensor([float(sum(c.values())) for c in docs])
        df = collections.Counter(t for c in docs for t in c)
        n = len(docs)
        scores = torch.zeros(len(Q), n)
        for r, qi in enumerate(Q):
            for t in set(feats.qs[qi]["ids"]) - {101, 102}:
                if t not in df:
                    continue
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                tf = torch.tensor([float(c.get(t, 0)) for c in docs])
                scores[r] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / length.mean()))
        return scores / scores.amax(1, keepdim=True).clamp_min(1e-6)


    def line(name, scores):
        r = recall_at(scores, gold)
        print(f"{name:<42} " + " ".join(f"{k} {v:.3f}" for k, v in r.items()), flush=True)


    print(f"validation: {len(P)} paragraphs, {len(Q)} questions")
    line("bundled key", dense)
    line("BM25", bm)
    for lam in (0.1, 0.2, 0.5):
        line(f"bundled key + {lam} * BM25 / max", dense + lam * bm)
    line("whitened bag of word embeddings alone", qb @ pb.t())
    line("sparse learned term weights alone", sparse)
    for lam in (0.1, 0.2, 0.5, 1.0):
        line(f"bundled key + {lam} * sparse", dense + lam * sparse)
    wp = wordpiece_bm25()
    line("BM25 over WordPiece ids", wp)
    for lam in (0.1, 0.2, 0.5):
        line(f"bundled key + {lam} * WordPiece BM25 / max", dense + lam * wp)


if __name__ == "__main__":
    main()
