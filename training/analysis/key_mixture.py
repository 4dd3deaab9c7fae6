"""Validation recall@1 of the bundled key against every mixture of its four parts on a grid.

The key is normalize(a*cls + b*mean + c*ctx + d*lex) (training/model.py, Compressor.key); training learns a..d with
the rest of the key head. This asks whether another mixture of the same parts would match better, on the
validation split only (the test split is not read). Needs training/cache/features.pt (training/extract.py).

    /usr/bin/python3 -m training.analysis.key_mixture
"""
import itertools
import os

import torch
import torch.nn.functional as F

from training.common import Features, recall_at
from training.bundle import bundled_compressor


def main():
    torch.set_num_threads(2)
    ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
    comp, E = bundled_compressor(os.path.join(ROOT, 'models', 'cmt-bge-small-squad'))
    feats = Features(os.path.join(ROOT, 'training', 'cache', 'features.pt'))
    print('mix', comp.mix.data.tolist())

    def parts(which, idx):
        out = []
        for s in range(0, len(idx), 64):
            h, ids, m = feats.batch(which, idx[s:s + 64])
            with torch.no_grad():
                w = comp.term_weights(h, ids, m)
                cls = F.normalize(h[:, 0], dim=-1)
                mean = F.normalize((h * m[..., None]).sum(1), dim=-1)
                ctx = F.normalize((w[..., None] * h).sum(1), dim=-1)
                lex = F.normalize((w[..., None] * comp.lex(F.embedding(ids, E))).sum(1), dim=-1)
            out.append(torch.stack([cls, mean, ctx, lex], 1))
        return torch.cat(out)

    res = {}
    for split in ('validation',):
        P = [i for i, p in enumerate(feats.paras) if p['split'] == split]
        Q = [i for i, q in enumerate(feats.qs) if q['split'] == split]
        pos = {p: r for r, p in enumerate(P)}
        gold = torch.tensor([pos[feats.qs[q]['para']] for q in Q])
        res[split] = (parts('p', P), parts('q', Q), gold)
        print(split, len(P), len(Q), flush=True)

    def recall(split, mix):
        pp, qq, gold = res[split]
        mix = torch.tensor(mix)
        pk = F.normalize((pp * mix[None, :, None]).sum(1), dim=-1)
        qk = F.normalize((qq * mix[None, :, None]).sum(1), dim=-1)
        return recall_at(qk @ pk.T, gold)

    base = comp.mix.data.tolist()
    print('bundled val', recall('validation', base), flush=True)
    grid = [0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0]
    best = None
    for a, b, c, d in itertools.product([0, 0.5, 1.0], [0, 0.5, 1.0, 1.5], grid, grid):
        if a == b == c == d == 0:
            continue
        r = recall('validation', [a, b, c, d])
        if best is None or r['recall@1'] > best[0]['recall@1']:
            best = (r, [a, b, c, d])
    print('best val', best, flush=True)


if __name__ == "__main__":
    main()
