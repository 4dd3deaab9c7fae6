"""CMT heads on top of the frozen bge-small backbone: compressor, aggregator (with its decompressor), reader.

Written with shape-polymorphic tensor ops only (no Python ints taken from shapes), so that torch.jit.trace
generalises over batch size, sequence length, k and answer length.
Every large 2-D weight matrix is a `QLinear` whose weight is stored at export time as int8 with a float32 scale per
output row (weight-only quantisation) to keep the bundle small. Nothing is de-quantised per call: the word-embedding
matrix (bge-small's, frozen) lives in its own file and is de-quantised once by the caller, then passed to the
compressor and the reader as an input, so that no per-call work depends on its 30522 x 384 size but the reader's
output product; likewise every head (`Head`: compressor, aggregator, reader) has a `weights(like)` method that
returns all its QLinear matrices de-quantised as one flat float vector, which the caller computes once and passes
to every forward / step call as the extra last input `w` (the traced graphs then only slice and view it).
In eager training `w` is left out (None) and the QLinears use their own (unquantised) weights.
"""
import contextlib
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
    """A linear layer whose [dout, din] weight is float (training) or int8 per row after `quantize` (export). Inside
    a head's `Head.bound(w)` it uses the view of `w` it was bound to instead (the caller's de-quantised copy)."""

    def __init__(self, din, dout, bias=True, zero=False, eye=False):
        super().__init__()
        self.din, self.dout = din, dout
        self.given = None
        if zero:
            w = torch.zeros(dout, din)
        elif eye:
            w = torch.eye(dout, din)
        else:
            w = torch.randn(dout, din) / math.sqrt(din)
        self.weight = nn.Parameter(w)
        self.bias = nn.Parameter(torch.zeros(dout)) if bias else None
        self.quantized = False

    def quantize(self):
        q, s = quantize_rows(self.weight.data)
        del self.weight
        self.register_buffer("wq", q)
        self.register_buffer("ws", s)
        self.quantized = True

    def dequantized(self):
        """The [dout, din] float weight from the module's own parameters / buffers."""
        return self.wq.float() * self.ws if self.quantized else self.weight

    def w(self):
        return self.given if self.given is not None else self.dequantized()

    def forward(self, x):
        return F.linear(x, self.w(), self.bias)


class Embeddings(nn.Module):
    """bge-small's word-embedding matrix, int8 per row; forward returns it dequantised ([V, H] float32).

    `like` only carries the dtype: a traced module needs an input."""

    def __init__(self, word_emb):
        super().__init__()
        q, s = quantize_rows(word_emb.float())
        self.register_buffer("eq", q)
        self.register_buffer("es", s)

    def forward(self, like):
        return (self.eq.float() * self.es).to(like.dtype)


class Head(nn.Module):
    """A module whose QLinear matrices can be given from outside, de-quantised once: `weights(like)` is their
    flat concatenation in module order (`like` only carries the dtype: a traced method needs an input), and
    `bound(w)` makes every QLinear use its slice of such a vector for the calls inside the `with` block."""

    def qlinears(self):
        return [m for m in self.modules() if isinstance(m, QLinear)]

    def weights_size(self):
        return sum(m.dout * m.din for m in self.qlinears())

    def weights(self, like):
        return torch.cat([m.dequantized().reshape(-1) for m in self.qlinears()]).to(like.dtype)

    @contextlib.contextmanager
    def bound(self, w):
        """Slices `w` (from `weights`) into the QLinears' [dout, din] views; offsets are Python ints, so a traced
        graph records only slice/view ops. With w None the QLinears use their own weights."""
        if w is None:
            yield
            return
        ms = self.qlinears()
        a = 0
        for m in ms:
            b = a + m.dout * m.din
            m.given = w[a:b].view(m.dout, m.din)
            a = b
        try:
            yield
        finally:
            for m in ms:
                m.given = None


def token_grid(x, mask, size):
    """Scatters the L token rows of x [B, L, H] onto a fixed grid of `size` positions (zeros past the text).
    Made from the inputs alone, without a factory call (ones_like, arange), which a trace would pin to the device
    it was traced on: the traced head then runs on any device."""
    j = torch.cumsum(mask[0] * 0 + 1, 0).long() - 1                           # [L] = 0..L-1
    # a token past the grid goes to an extra column, cut off
    place = F.one_hot(j.clamp(max=size), size + 1)[:, :size].to(x.dtype)     # [L, size]
    return torch.einsum("bld,lp->bpd", x * mask[..., None], place)


class Compressor(Head):
    """hidden [B, L, H], ids [B, L], mask [B, L], emb [V, H], w (`weights`) -> (memory [B, M, H], key [B, H]
    L2-normalised).

    Memory: every token i (i < M*C) of the text is coded into H/C numbers from its contextual state and its word
    embedding, and slot s is the concatenation of the codes of tokens s*C .. s*C+C-1 (a block code: tokens of a
    slot do not interfere; the aggregator's decompressor is trained to get the tokens back). Key: a weighted fusion
    of the untuned encoder's [CLS], its mean state, a learned term-weighted mean of contextual states and a learned
    term-weighted bag of word embeddings (lexical evidence)."""

    def __init__(self, d=384, m=32, c=8, vocab=30522):
        super().__init__()
        self.m, self.c, self.d = m, c, d
        self.ln_h = nn.LayerNorm(d)
        self.idf = nn.Parameter(torch.ones(vocab))       # per-token weight, set to the training idf before training
        self.wh = QLinear(d, d)
        self.we = QLinear(d, d, eye=True)
        self.down = QLinear(d, d // c)
        self.term = nn.Linear(d, 1)
        nn.init.zeros_(self.term.weight)
        self.lex = QLinear(d, d, eye=True)
        self.mix = nn.Parameter(torch.tensor([1.0, 1.0, 0.0, 0.5]))

    def memory(self, hidden, ids, mask, emb, slots):
        """The first `slots` memory slots [B, slots, H] (training reads only a question's first few)."""
        x = self.wh(self.ln_h(hidden)) + self.we(F.embedding(ids, emb))
        code = token_grid(self.down(x), mask, slots * self.c)                   # [B, slots*C, H/C]
        return code.reshape(code.size(0), slots, self.d)

    def term_weights(self, hidden, ids, mask):
        """idf of the token (learned, from the training idf) times a contextual factor (learned, from 1)."""
        return F.embedding(ids, self.idf[:, None]).squeeze(-1) * 2.0 * torch.sigmoid(
            self.term(self.ln_h(hidden)).squeeze(-1)) * mask

    def key(self, hidden, ids, mask, emb):
        w = self.term_weights(hidden, ids, mask)
        cls = F.normalize(hidden[:, 0], dim=-1)
        mean = F.normalize((hidden * mask[..., None]).sum(1), dim=-1)
        ctx = F.normalize((w[..., None] * hidden).sum(1), dim=-1)
        lex = F.normalize((w[..., None] * self.lex(F.embedding(ids, emb))).sum(1), dim=-1)
        key = self.mix[0] * cls + self.mix[1] * mean + self.mix[2] * ctx + self.mix[3] * lex
        return F.normalize(key, dim=-1)

    def forward(self, hidden, ids, mask, emb, w=None):
        with self.bound(w):
            return self.memory(hidden, ids, mask, emb, self.m), self.key(hidden, ids, mask, emb)


class Decompressor(nn.Module):
    """memory [..., M, H] -> virtual tokens [..., M*C, H]: each slot split back into its C token codes, decoded."""

    def __init__(self, d=384, m=32, c=8):
        super().__init__()
        self.m, self.c, self.d = m, c, d
        self.up = QLinear(d // c, d)
        self.ln = nn.LayerNorm(d)
        self.pos = nn.Parameter(torch.randn(m * c, d) * 0.02)

    def codes(self, mem):
        return mem.reshape(mem.shape[:-2] + (mem.size(-2) * self.c, self.d // self.c))

    def forward(self, mem):
        v = self.ln(self.up(self.codes(mem)))
        return v + self.pos[: v.size(-2)]


def split_heads(x, heads):
    """[..., n, w] -> [..., heads, n, w / heads]."""
    return x.reshape(x.shape[:-1] + (heads, x.size(-1) // heads)).transpose(-2, -3)


class Attention(nn.Module):
    """Pre-LN multi-head self-attention block with a residual: x [..., n, w]; `bias` [..., 1, 1, n] masks keys
    (0 or NEG)."""

    def __init__(self, w, heads):
        super().__init__()
        self.h, self.dh = heads, w // heads
        self.ln = nn.LayerNorm(w)
        self.q, self.k, self.v = QLinear(w, w), QLinear(w, w), QLinear(w, w)
        self.o = QLinear(w, w, zero=True)


    def forward(self, x, bias):
        xn = self.ln(x)
        q, k, v = (split_heads(f(xn), self.h) for f in (self.q, self.k, self.v))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.dh) + bias, dim=-1)
        c = (att @ v).transpose(-2, -3)
        return x + self.o(c.reshape(c.shape[:-2] + (self.h * self.dh,)))


class FeedForward(nn.Module):
    def __init__(self, w, ffn):
        super().__init__()
        self.ln, self.a, self.b = nn.LayerNorm(w), QLinear(w, ffn), QLinear(ffn, w, zero=True)

    def forward(self, x):
        return x + self.b(F.gelu(self.a(self.ln(x))))


def key_bias(codes):
    """Attention bias [..., 1, 1, n] that masks the grid positions past the text: their code is all zeros (the
    compressor's token grid), so they are told apart from the memory itself, without a separate length input."""
    present = (codes.abs().sum(-1) > 0).to(codes.dtype)
    return ((1.0 - present) * NEG)[..., None, None, :]


class SpanScorer(nn.Module):
    """The aggregator's question-aware reader of the decompressed memory tokens: start / end logits of every token.

    Memory side (once per memory, question-independent): `layers` self-attention blocks over the memory's own
    tokens, so that a token's state knows its sentence. Question side: one self-attention block over the question's
    tokens. Then every memory token attends to the question tokens once, is narrowed to `fw` numbers together with
    its best cosine match among the question's tokens (an exact-match cue: the decompressed tokens keep token
    identity), and `fuse` narrow self-attention blocks spread that question evidence to the neighbours, where answers
    are, before linear start / end heads. The work that depends on both question and memory is kept narrow, because
    training pays it for every (question, memory) pair but the memory side only once per memory."""

    def __init__(self, d=384, w=128, heads=4, ffn=256, layers=2, fw=64, fuse=1, spans=11):
        super().__init__()
        self.h, self.dh = heads, w // heads
        self.ln_m, self.ln_q = nn.LayerNorm(d), nn.LayerNorm(d)
        self.m_in, self.q_in = QLinear(d, w), QLinear(d, w)
        self.m_self = nn.ModuleList([Attention(w, heads) for _ in range(layers)])
        self.m_ffn = nn.ModuleList([FeedForward(w, ffn) for _ in range(layers)])
        self.q_self, self.q_ffn = Attention(w, heads), FeedForward(w, ffn)
        self.ln_x, self.ln_y = nn.LayerNorm(w), nn.LayerNorm(w)
        self.cq, self.ck, self.cv = QLinear(w, w), QLinear(w, w), QLinear(w, w)
        self.co = QLinear(w, w)
        self.ln_h = nn.LayerNorm(w)
        self.f_in = QLinear(w, fw)
        self.f_match = nn.Parameter(torch.randn(fw) * 0.1)
        self.f_self = nn.ModuleList([Attention(fw, 2) for _ in range(fuse)])
        self.f_ffn = nn.ModuleList([FeedForward(fw, 2 * fw) for _ in range(fuse)])
        self.ln_f = nn.LayerNorm(fw)
        self.se = QLinear(fw, 2)
        self.null = QLinear(w, 1)
        self.len_bias = nn.Parameter(torch.zeros(spans))
        self.score_w = nn.Parameter(torch.tensor(5.0))


    def memory_side(self, v, bias):
        """v [..., N, H] decompressed memory tokens, bias from `key_bias` -> (states [..., N, w], their attention
        queries toward the question [..., heads, N, dh])."""
        x = self.m_in(self.ln_m(v))
        for att, ffn in zip(self.m_self, self.m_ffn):
            x = ffn(att(x, bias))
        return x, split_heads(self.cq(self.ln_x(x)), self.h)

    def question_side(self, qv, qbias):
        """qv [B, Lq, H] -> (question attention keys, values [B, heads, Lq, dh], pooled summary [B, w])."""
        y = self.q_in(self.ln_q(qv))
        y = self.q_ffn(self.q_self(y, qbias))
        present = (qbias[:, 0, 0] > NEG / 2).to(y.dtype)                              # [B, Lq]
        pooled = (y * present[..., None]).sum(1) / present.sum(1, keepdim=True).clamp_min(1.0)
        yn = self.ln_y(y)
        return split_heads(self.ck(yn), self.h), split_heads(self.cv(yn), self.h), pooled

    def tokens(self, x, xq, bias, yk, yv, qbias, match):
        """memory states x [B, k, N, w] and queries xq [B, k, heads, N, dh]; question keys / values
        [B, heads, Lq, dh]; match [B, k, N] -> (start, end) logits [B, k, N] each."""
        att = torch.softmax(xq @ yk[:, None].transpose(-1, -2) / math.sqrt(self.dh) + qbias[:, None], dim=-1)
        c = (att @ yv[:, None]).transpose(-2, -3)
        h = x + self.co(c.reshape(c.shape[:-2] + (self.h * self.dh,)))
        g = self.f_in(self.ln_h(h)) + match[..., None] * self.f_match
        for a, f in zip(self.f_self, self.f_ffn):
            g = f(a(g, bias))
        se = self.se(self.ln_f(g)) + bias[..., 0, 0, :, None]                          # padding never starts / ends
        return se[..., 0], se[..., 1]


class Aggregator(Head):
    """query [B, M, H], memories [B, k, M, H], scores [B, k], present [B, k], w (`weights`) -> prompt [B, P, H].

    Top-aggregation as question-conditioned attention over the decompressed tokens of the top-k memories: every
    (memory, start, length) span gets a logit from start/end scorers (question-aware through a cross-attention to the
    question's own decompressed tokens) plus a learned multiple of its memory's matching score; one learned *null*
    option stands for 'no memory helps' (and is all that is left when present == 0 everywhere: closed book).
    Soft-prompt vector i is the span distribution's expectation of the i-th token of the span (or a learned stop /
    after marker), plus a question summary, so the reader reads the answer off the prompt position by position."""

    def __init__(self, d=384, m=32, c=8, p=12, att=128, q_tokens=64, hard=False, scorer=None):
        super().__init__()
        self.hard = hard     # inference: the prompt reads the single most likely span (chosen on validation)
        self.d, self.p, self.s, self.q_tokens, self.att, self.n = d, p, p - 1, q_tokens, att, m * c
        self.dec = Decompressor(d, m, c)
        self.q_pool = QLinear(d, 2)
        self.q_mlp = QLinear(2 * d, d)
        if scorer is None:   # the first stage's span scorer
            self.q_out = QLinear(d, 2 * d)
            self.ln_v = nn.LayerNorm(d)
            self.cq, self.ck, self.cv = QLinear(d, att), QLinear(d, att), QLinear(d, att)
            self.co = QLinear(att, d, zero=True)
            self.ws, self.we = QLinear(d, d), QLinear(d, d)
            self.len_bias = nn.Parameter(torch.zeros(self.s))
            self.score_w = nn.Parameter(torch.tensor(5.0))
            self.null = QLinear(d, 1)
        self.u = QLinear(d, d, eye=True)
        self.stop = nn.Parameter(torch.randn(d) * 0.02)
        self.after = nn.Parameter(torch.randn(d) * 0.02)
        self.nullp = nn.Parameter(torch.randn(p, d) * 0.02)
        self.ppos = nn.Parameter(torch.randn(p, d) * 0.02)
        self.gq = QLinear(d, d)
        self.out_ln = nn.LayerNorm(d)
        # the second stage's question-aware span scorer (training/span_stage.py), which replaces the first one
        self.scorer = SpanScorer(d, spans=p - 1, **scorer) if scorer is not None else None

    def with_scorer(self, scorer):
        """A copy of this (first-stage) aggregator with a new, untrained second-stage span scorer in place of its
        own: decompressor, question summary and prompt builder keep their trained weights."""
        other = Aggregator(self.d, self.n // self.dec.c, self.dec.c, self.p, self.att, self.q_tokens, self.hard,
                           scorer)
        mine = self.state_dict()
        for k in [k for k in mine if k.endswith(".wq")]:     # an exported (quantised) aggregator: float copies
            mine[k[:-2] + "weight"] = mine.pop(k).float() * mine.pop(k[:-1] + "s")
        missing, _ = other.load_state_dict({k: v for k, v in mine.items() if k in other.state_dict()},
                                           strict=False)
        assert all(k.startswith("scorer.") for k in missing), missing
        return other

    def question(self, query):
        qv = self.dec(query)[:, : self.q_tokens]                                  # [B, Lq, H]
        a = torch.softmax(self.q_pool(qv), dim=1)                                 # [B, Lq, 2]
        pooled = torch.einsum("blh,bld->bhd", a, qv).reshape(qv.size(0), 2 * self.d)
        return qv, F.gelu(self.q_mlp(pooled))

    def memory_side(self, memories):
        """What depends on the memories alone (computed once per memory in training): the decompressed tokens
        [..., N, H] and their attention queries toward the question [..., N, att]."""
        v = self.dec(memories)
        return v, self.cq(self.ln_v(v))

    def spans(self, query, memories, scores, present):
        if self.scorer is None:
            v, vq = self.memory_side(memories)
            qv, qp = self.question(query)
            return self.spans_from(qv, qp, v, vq, scores, present)
        v = self.dec(memories)
        bias = key_bias(self.dec.codes(memories))
        x, xq = self.scorer.memory_side(v, bias)
        qv, qp = self.question(query)
        return self.scored_spans(x, xq, bias, v, qv, self.question_bias(query), scores, present), v, qp

    def match(self, v, qv, qbias):
        """[B, k, N]: every memory token's best cosine similarity to a question token, position embeddings
        removed (they would make every token match the question token at its own position)."""
        vn = F.normalize(v - self.dec.pos[: v.size(-2)], dim=-1)
        qn = F.normalize(qv - self.dec.pos[: qv.size(-2)], dim=-1)
        return (vn @ qn[:, None].transpose(-1, -2) + qbias[:, None, 0]).amax(-1)

    def question_bias(self, query):
        return key_bias(self.dec.codes(query)[:, : self.q_tokens])

    def scored_spans(self, x, xq, bias, v, qv, qbias, scores, present):
        """Span log-probabilities [B, k*N*S + 1] from the second-stage scorer (see `span_logp`); v [B, k, N, H]
        and qv [B, Lq, H] are the decompressed memory and question tokens."""
        yk, yv, pooled = self.scorer.question_side(qv, qbias)
        st, en = self.scorer.tokens(x, xq, bias, yk, yv, qbias, self.match(v, qv, qbias))
        return self.span_logp(st, en, self.scorer.len_bias, self.scorer.score_w, scores, present,
                              self.scorer.null(pooled))

    def span_logp(self, st, en, len_bias, score_w, scores, present, null):
        """log-softmax over every (memory, start, length) span and the null option: start [B, k, N] + end of the
        span + length bias + a multiple of the memory's matching score (absent memories masked out)."""
        ends = [F.pad(en[..., i:], (0, i), value=NEG) for i in range(self.s)]   # end of a span of length i+1
        logit = st[..., None] + torch.stack(ends, -1) + len_bias
        logit = logit + (score_w * scores * present + (1.0 - present) * NEG)[..., None, None]
        return torch.log_softmax(torch.cat([logit.reshape(logit.size(0), -1), null], 1), -1)

    def spans_from(self, qv, qp, v, vq, scores, present):
        """(span log-probabilities [B, k*N*S + 1] (last = null), decompressed memory tokens [B, k, N, H],
        question summary [B, H]).

        The start/end scorers are bilinear in (token state + its question context, question summary); being
        linear in the token side they are applied to the question side (W^T q), which is the same function at a
        fraction of the cost of projecting every memory token."""
        a = torch.einsum("bkna,bla->bknl", vq, self.ck(qv)) / math.sqrt(self.att)
        ctx = torch.einsum("bknl,bla->bkna", torch.softmax(a, -1), self.cv(qv))
        qs, qe = self.q_out(qp).chunk(2, dim=-1)

        def score(lin, q):
            w = q @ lin.w()                                                       # [B, H]
            return (torch.einsum("bknd,bd->bkn", v, w) + torch.einsum("bkna,ba->bkn", ctx, w @ self.co.w())
                    + ((w * self.co.bias).sum(-1) + (q * lin.bias).sum(-1))[:, None, None]) / math.sqrt(self.d)

        st, en = score(self.ws, qs), score(self.we, qe)
        return self.span_logp(st, en, self.len_bias, self.score_w, scores, present, self.null(qp)), v, qp

    def prompt_from(self, logp, v, qp):
        return self.prompt_from_probs(logp.exp(), v, qp)

    def prompt_from_probs(self, pi, v, qp):
        span = pi[:, :-1].reshape(v.shape[:-1] + (self.s,))                       # [B, k, N, S]
        cover = torch.flip(torch.cumsum(torch.flip(span, [-1]), -1), [-1])      # P(length > i) at start j
        ends_at = span.sum((1, 2))                                                # [B, S]: P(length = i+1)
        # weight of token n as the i-th answer token = P(span starts at n - i and is longer than i)
        shifted = torch.stack([F.pad(cover[..., i], (i, 0))[..., : self.n] for i in range(self.s)], -1)
        toks = torch.einsum("bkns,bknd->bsd", shifted, v)                        # [B, S, H]
        out = []
        for i in range(self.p):
            tok = toks[:, i] if i < self.s else torch.zeros_like(qp)
            stop = ends_at[:, i - 1: i] if i > 0 else torch.zeros_like(qp[:, :1])
            after = ends_at[:, : i - 1].sum(-1, keepdim=True) if i > 1 else torch.zeros_like(qp[:, :1])
            out.append(self.u(tok) + stop * self.stop + after * self.after + pi[:, -1:] * self.nullp[i])
        z = torch.stack(out, 1) + self.gq(qp)[:, None] + self.ppos
        return self.out_ln(z)

    def forward(self, query, memories, scores, present, w=None):
        with self.bound(w):
            logp, v, qp = self.spans(query, memories, scores, present)
            if self.hard:
                return self.prompt_from_probs(
                    torch.zeros_like(logp).scatter(1, logp.argmax(1, keepdim=True), 1.0), v, qp)
            return self.prompt_from(logp, v, qp)


class ReaderLayer(nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.h, self.dh = heads, d // heads
        self.ln = nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = QLinear(d, d), QLinear(d, d), QLinear(d, d), QLinear(d, d)
        self.ln2, self.a, self.b = nn.LayerNorm(d), QLinear(d, ffn), QLinear(ffn, d)


    def forward(self, x, past_k, past_v, bias4):
        """x [B, n, H] new positions; past_k/v [B, heads, t, dh] (t may be 0); bias4 masks [n, t + n]."""
        h = self.ln(x)
        q = split_heads(self.q(h), self.h)
        k = torch.cat([past_k, split_heads(self.k(h), self.h)], 2)
        v = torch.cat([past_v, split_heads(self.v(h), self.h)], 2)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.dh) + bias4, dim=-1)
        c = (att @ v).transpose(1, 2)
        x = x + self.o(c.reshape(c.size(0), c.size(1), -1))
        x = x + self.b(F.gelu(self.a(self.ln2(x))))
        return x, k, v


class Reader(Head):
    """Prefix decoder: [prompt (P vectors); answer tokens] -> causal transformer -> next-token logits over the
    (tied, frozen) word embeddings. `forward` reads the prompt and [bos] and returns the logits and the key/value
    cache; `step` extends the cache by one token, so decoding costs one position per token. Both take the
    de-quantised weights (`weights`) as their last input."""

    def __init__(self, d=384, heads=6, ffn=640, layers=2, p=12, max_t=32, vocab=30522):
        super().__init__()
        self.h, self.dh, self.nl, self.p = heads, d // heads, layers, p
        self.prompt_in = QLinear(d, d)
        self.ppos = nn.Parameter(torch.randn(p, d) * 0.02)
        self.pos = nn.Parameter(torch.randn(max_t, d) * 0.02)
        self.tok_ln = nn.LayerNorm(d)
        self.align = QLinear(d, d, eye=True)
        self.max_t = max_t
        self.layers = nn.ModuleList([ReaderLayer(d, heads, ffn) for _ in range(layers)])
        self.out_ln = nn.LayerNorm(d)
        self.out = QLinear(d, d)
        self.out_bias = nn.Parameter(torch.zeros(vocab))
        self.scale = nn.Parameter(torch.tensor(1.0))

    def run(self, x, cache, bias4):
        ks, vs = [], []
        for i, layer in enumerate(self.layers):
            x, k, v = layer(x, cache[2 * i], cache[2 * i + 1], bias4)
            ks.append(k)
            vs.append(v)
        new = torch.stack([t for pair in zip(ks, vs) for t in pair], 0)
        return x, new

    def logits(self, x, emb):
        return self.scale * (self.out(self.out_ln(x)) @ emb.t()) + self.out_bias

    def aligned(self, prompt):
        """Prompt vector t beside answer position t (zeros past P): the aggregator lays the answer's t-th token
        out at prompt position t, and this direct path lets the reader copy it without learning to find it."""
        return self.align(F.pad(prompt, (0, 0, 0, self.max_t - self.p)))

    def start(self, prompt, answer, emb):
        """[B, P + T, H] inputs, the empty cache and the causal mask for a prompt and answer prefix."""
        t = F.embedding(answer, emb)
        t = self.tok_ln(t + self.pos[: answer.size(1)][None]) + self.aligned(prompt)[:, : answer.size(1)]
        x = torch.cat([self.prompt_in(prompt) + self.ppos, t], 1)
        ones = torch.ones_like(x[0, :, 0])
        bias4 = ((1.0 - torch.tril(ones[:, None] * ones[None, :])) * NEG)[None, None]
        empty = torch.zeros_like(x[:, :0, :]).reshape(x.size(0), 0, self.h, self.dh).transpose(1, 2)
        cache = torch.stack([empty] * (2 * self.nl), 0)
        return x, cache, bias4

    def logits_at(self, prompt, answer, sel, emb):
        """logits [N, vocab] at the answer positions where sel [B, T] is True (training)."""
        x, cache, bias4 = self.start(prompt, answer, emb)
        x, _ = self.run(x, cache, bias4)
        return self.logits(x[:, prompt.size(1):][sel], emb)

    def forward(self, prompt, answer, emb, w=None):
        """Prefill: logits [B, vocab] of the token after `answer` and the cache [2*layers, B, heads, P+T, dh]."""
        with self.bound(w):
            x, cache = self.prefill(prompt, answer, emb)
            return self.logits(x[:, -1], emb), cache

    def prefill(self, prompt, answer, emb):
        x, cache, bias4 = self.start(prompt, answer, emb)
        return self.run(x, cache, bias4)

    def step(self, prompt, token, position, cache, emb, w=None):
        """token [B, 1] at answer position `position` ([1], long) after `cache` -> (logits [B, vocab], cache)."""
        with self.bound(w):
            x, cache = self.advance(prompt, token, position, cache, emb)
            return self.logits(x[:, -1], emb), cache

    def advance(self, prompt, token, position, cache, emb):
        x = self.tok_ln(F.embedding(token, emb) + self.pos[position][None]) + self.aligned(prompt)[:, position]
        bias4 = torch.zeros_like(cache[0, :1, :1, :1, :1]).reshape(1, 1, 1, 1)
        return self.run(x, cache, bias4)

    # The same two calls scoring only the ids `among` [B, C] (logits [B, C], C ids per row, repeats allowed): when
    # answers may use only a few hundred ids (the read memories' terms, docs/MODEL-CONTRACT.md "Answer
    # vocabulary"), the product with the whole 30522-word embedding matrix, most of a step's time, is not needed.
    def logits_among(self, x, emb, among):
        y = self.out(self.out_ln(x))                                              # [B, H]
        return self.scale * torch.einsum("bh,bch->bc", y, F.embedding(among, emb)) + self.out_bias[among]

    def forward_among(self, prompt, answer, among, emb, w=None):
        with self.bound(w):
            x, cache = self.prefill(prompt, answer, emb)
            return self.logits_among(x[:, -1], emb, among), cache

    def step_among(self, prompt, token, position, cache, among, emb, w=None):
        with self.bound(w):
            x, cache = self.advance(prompt, token, position, cache, emb)
            return self.logits_among(x[:, -1], emb, among), cache


def quantize_all(module):
    for m in module.modules():
        if isinstance(m, QLinear) and not m.quantized:
            m.quantize()
    return module
