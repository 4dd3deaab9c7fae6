"""CMT heads on top of the frozen bge-small backbone: compressor head, aggregator, reader.

All three are written with shape-polymorphic tensor ops only (no Python ints taken from shapes), so that
torch.jit.trace generalises over batch size, sequence length, k and answer length T.
Every 2-D weight matrix is an `QLinear`/`QEmbedding` whose weight is stored at export time as int8 with a
float32 scale per output row (weight-only quantisation; dequantised in forward) to keep the bundle small.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NEG = -1.0e4


def quantize_rows(w):
    s = w.abs().amax(dim=1, keepdim=True).clamp_min(1e-8) / 127.0
    q = torch.round(w / s).clamp(-127, 127).to(torch.int8)
    return q, s


class QLinear(nn.Module):
    def __init__(self, din, dout, bias=True, zero=False):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(dout, din) if zero else torch.randn(dout, din) / math.sqrt(din))
        self.bias = nn.Parameter(torch.zeros(dout)) if bias else None
        self.quantized = False

    def quantize(self):
        q, s = quantize_rows(self.weight.data)
        del self.weight
        self.register_buffer("wq", q)
        self.register_buffer("ws", s)
        self.quantized = True

    def w(self):
        return self.wq.float() * self.ws if self.quantized else self.weight

    def forward(self, x):
        return F.linear(x, self.w(), self.bias)


class Attention(nn.Module):
    """Multi-head attention; `bias` is an additive [B, Lk] (or [B, 1, Lq, Lk]) mask/bias."""

    def __init__(self, d, heads):
        super().__init__()
        self.h, self.dh = heads, d // heads
        self.q, self.k, self.v, self.o = QLinear(d, d), QLinear(d, d), QLinear(d, d), QLinear(d, d)

    def split(self, x):
        return x.reshape(x.size(0), x.size(1), self.h, self.dh).transpose(1, 2)

    def forward(self, x, mem, bias4):
        q, k, v = self.split(self.q(x)), self.split(self.k(mem)), self.split(self.v(mem))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.dh) + bias4, dim=-1)
        c = (a @ v).transpose(1, 2)
        return self.o(c.reshape(c.size(0), c.size(1), -1))


class FFN(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.ln, self.a, self.b = nn.LayerNorm(d), QLinear(d, f), QLinear(f, d)

    def forward(self, x):
        return self.b(F.gelu(self.a(self.ln(x))))


class Compressor(nn.Module):
    """hidden [B, L, H] + mask [B, L] -> (memory [B, M, H], key [B, H] L2-normalised)."""

    def __init__(self, d=384, m=32, heads=6, ffn=768):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.slots = nn.Parameter(torch.randn(m, d) * 0.02)
        self.lnq = nn.LayerNorm(d)
        self.att = Attention(d, heads)
        self.ffn = FFN(d, ffn)
        self.out_ln = nn.LayerNorm(d)
        # key: [CLS] + residual MLP over ([CLS], masked mean), last layer zero-initialised so that training starts
        # from the untuned encoder's [CLS] matching.
        self.k1 = QLinear(2 * d, d)
        self.k2 = QLinear(d, d, zero=True)

    def forward(self, hidden, mask):
        x = self.ln(hidden)
        bias4 = ((1.0 - mask) * NEG)[:, None, None, :]
        q = self.lnq(self.slots)[None].expand(hidden.size(0), -1, -1)
        mem = self.slots[None] + self.att(q, x, bias4)
        mem = mem + self.ffn(mem)
        mem = self.out_ln(mem)
        cls = hidden[:, 0]
        mean = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1.0)
        key = cls + self.k2(F.gelu(self.k1(torch.cat([cls, mean], -1))))
        return mem, F.normalize(key, dim=-1)


class AggBlock(nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.ln_q, self.att_q = nn.LayerNorm(d), Attention(d, heads)
        self.ln_m, self.att_m = nn.LayerNorm(d), Attention(d, heads)
        self.ffn = FFN(d, ffn)

    def forward(self, z, qmem, qbias4, mem, mbias4):
        z = z + self.att_q(self.ln_q(z), qmem, qbias4)
        z = z + self.att_m(self.ln_m(z), mem, mbias4)
        return z + self.ffn(z)


class Aggregator(nn.Module):
    """query [B, M, H], memories [B, k, M, H], scores [B, k], present [B, k] -> prompt [B, P, H].

    P learned prompt queries read the question's memory tokens and the top-k memories (plus a learned null
    memory that is always present, so present == 0 everywhere is closed book). Each memory token gets a score
    embedding, and attention logits get a learned multiple of the matching score (top-aggregation)."""

    def __init__(self, d=384, p=8, heads=6, ffn=768, blocks=2, nnull=2):
        super().__init__()
        self.prompt = nn.Parameter(torch.randn(p, d) * 0.02)
        self.null = nn.Parameter(torch.randn(nnull, d) * 0.02)
        self.score_vec = nn.Parameter(torch.zeros(d))
        self.score_w = nn.Parameter(torch.tensor(5.0))
        self.ln_mem = nn.LayerNorm(d)
        self.blocks = nn.ModuleList([AggBlock(d, heads, ffn) for _ in range(blocks)])
        self.out_ln = nn.LayerNorm(d)

    def forward(self, query, memories, scores, present):
        B = memories.size(0)
        mem = memories + scores[..., None, None] * self.score_vec
        mem = mem.reshape(B, -1, mem.size(-1))                                        # [B, k*M, H]
        tok_scores = scores[..., None].expand_as(memories[..., 0]).reshape(B, -1)      # [B, k*M]
        tok_present = present[..., None].expand_as(memories[..., 0]).reshape(B, -1)
        null = self.null[None].expand(B, -1, -1)
        mem = self.ln_mem(torch.cat([null, mem], 1))
        zeros = torch.zeros_like(null[..., 0])
        mbias = torch.cat([zeros, (1.0 - tok_present) * NEG + self.score_w * tok_scores * tok_present], 1)
        mbias4 = mbias[:, None, None, :]
        qbias4 = torch.zeros_like(query[:, None, None, :, 0])
        z = self.prompt[None].expand(B, -1, -1)
        for blk in self.blocks:
            z = blk(z, query, qbias4, mem, mbias4)
        return self.out_ln(z)


class ReaderLayer(nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.ln, self.att, self.ffn = nn.LayerNorm(d), Attention(d, heads), FFN(d, ffn)

    def forward(self, x, bias4):
        h = self.ln(x)
        x = x + self.att(h, h, bias4)
        return x + self.ffn(x)


class Reader(nn.Module):
    """Prefix decoder: [prompt (P vectors); answer token embeddings] -> causal transformer -> next-token logits.

    Input and output embeddings are tied to bge-small's (frozen) word-embedding matrix."""

    def __init__(self, word_emb, d=384, heads=6, ffn=1024, layers=2, max_t=32):
        super().__init__()
        q, s = quantize_rows(word_emb.float())
        self.register_buffer("eq", q)      # frozen, stored int8 from the start: train == export
        self.register_buffer("es", s)
        self.pos = nn.Parameter(torch.randn(max_t, d) * 0.02)
        self.prompt_in = QLinear(d, d)
        self.tok_ln = nn.LayerNorm(d)
        self.layers = nn.ModuleList([ReaderLayer(d, heads, ffn) for _ in range(layers)])
        self.out_ln = nn.LayerNorm(d)
        self.out = QLinear(d, d)
        self.out_bias = nn.Parameter(torch.zeros(word_emb.size(0)))
        self.scale = nn.Parameter(torch.tensor(1.0))

    def emb(self):
        return self.eq.float() * self.es

    def hidden(self, prompt, answer):
        E = self.emb()
        t = F.embedding(answer, E)
        t = self.tok_ln(t + self.pos[: answer.size(1)][None])
        x = torch.cat([self.prompt_in(prompt), t], 1)
        n = x.size(1)
        ones = torch.ones_like(x[0, :, 0])
        causal = torch.tril(ones[:, None] * ones[None, :])
        bias4 = ((1.0 - causal) * NEG)[None, None]
        for layer in self.layers:
            x = layer(x, bias4)
        return x, n

    def logits_all(self, prompt, answer):
        """[B, T, vocab]: logits after each answer position (training)."""
        x, _ = self.hidden(prompt, answer)
        h = self.out(self.out_ln(x[:, prompt.size(1):]))
        return self.scale * (h @ self.emb().t()) + self.out_bias

    def logits_at(self, prompt, answer, sel):
        """logits [N, vocab] at the answer positions where sel [B, T] is True (training)."""
        x, _ = self.hidden(prompt, answer)
        h = self.out(self.out_ln(x[:, prompt.size(1):][sel]))
        return self.scale * (h @ self.emb().t()) + self.out_bias

    def forward(self, prompt, answer):
        x, _ = self.hidden(prompt, answer)
        h = self.out(self.out_ln(x[:, -1]))
        return self.scale * (h @ self.emb().t()) + self.out_bias


def quantize_all(module):
    for m in module.modules():
        if isinstance(m, QLinear) and not m.quantized:
            m.quantize()
    return module
