"""The frozen bge-small-en-v1.5 backbone in PyTorch, built from the ONNX file of the Maven artifact.

Two implementations:
  * OnnxGraphRunner: executes the ONNX graph node by node with torch ops (a faithful reference of the
    graph the Java side runs through ONNX Runtime; only the 19 op types this graph uses are supported).
  * Bert: a plain PyTorch BERT whose weights are the ONNX initializers (onnx.numpy_helper), mapped to
    Hugging Face BERT names. This is the one used for feature extraction; check() verifies it against
    the graph runner.
"""
import math

import numpy as np
import onnx
import torch
from onnx import numpy_helper


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class OnnxGraphRunner:
    def __init__(self, path):
        self.model = onnx.load(path)
        g = self.model.graph
        self.init = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in g.initializer}
        self.nodes = [(n.op_type, list(n.input), list(n.output), _attrs(n)) for n in g.node]
        self.outputs = [o.name for o in g.output]

    @torch.no_grad()
    def __call__(self, input_ids, attention_mask, token_type_ids):
        env = dict(self.init)
        env.update(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        for op, ins, outs, at in self.nodes:
            x = [env[i] if i else None for i in ins]
            if op == "Constant":
                y = torch.from_numpy(numpy_helper.to_array(at["value"]).copy())
            elif op == "Unsqueeze":
                y = x[0]
                for a in sorted(at["axes"]):
                    y = y.unsqueeze(a)
            elif op == "Cast":
                y = x[0].to({1: torch.float32, 7: torch.int64, 9: torch.bool}[at["to"]])
            elif op == "Sub":
                y = x[0] - x[1]
            elif op == "Add":
                y = x[0] + x[1]
            elif op == "Mul":
                y = x[0] * x[1]
            elif op == "Div":
                y = x[0] / x[1] if x[0].is_floating_point() else torch.div(x[0], x[1], rounding_mode="floor")
            elif op == "Pow":
                y = torch.pow(x[0], x[1])
            elif op == "Sqrt":
                y = torch.sqrt(x[0])
            elif op == "Erf":
                y = torch.erf(x[0])
            elif op == "Shape":
                y = torch.tensor(list(x[0].shape), dtype=torch.int64)
            elif op == "Gather":
                axis = at.get("axis", 0)
                idx = x[1]
                if idx.dim() == 0:
                    y = x[0].select(axis, int(idx))
                else:
                    y = torch.index_select(x[0], axis, idx.reshape(-1)).reshape(
                        list(x[0].shape[:axis]) + list(idx.shape) + list(x[0].shape[axis + 1:]))
            elif op == "Concat":
                y = torch.cat([t.reshape(-1) if t.dim() == 0 else t for t in x], dim=at["axis"])
            elif op == "Reshape":
                shape = [int(s) for s in x[1]]
                shape = [x[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
                y = x[0].reshape(shape)
            elif op == "Transpose":
                y = x[0].permute(*at["perm"])
            elif op == "MatMul":
                y = torch.matmul(x[0], x[1])
            elif op == "ReduceMean":
                y = x[0].mean(dim=tuple(at["axes"]), keepdim=bool(at.get("keepdims", 1)))
            elif op == "Softmax":
                y = torch.softmax(x[0], dim=at.get("axis", -1))
            elif op == "Slice":
                data, starts, ends = x[0], x[1], x[2]
                axes = x[3] if len(x) > 3 and x[3] is not None else torch.arange(len(starts))
                steps = x[4] if len(x) > 4 and x[4] is not None else torch.ones(len(starts), dtype=torch.int64)
                y = data
                for s, e, a, st in zip(starts.tolist(), ends.tolist(), axes.tolist(), steps.tolist()):
                    idx = [slice(None)] * y.dim()
                    idx[a] = slice(s, e, st)
                    y = y[tuple(idx)]
            else:
                raise NotImplementedError(op)
            env[outs[0]] = y
        return env[self.outputs[0]]


def initializer_names(graph):
    """Hugging Face BERT name -> the ONNX initializer holding that weight. The MatMul weights are unnamed
    initializers ('onnx::MatMul_1234', stored [in, out]); they are named from the node that consumes them."""
    init = {i.name for i in graph.initializer}
    named = {}
    for n in graph.node:
        if n.op_type == "MatMul" and n.input[1] in init:
            # '/encoder/layer.0/attention/self/query/MatMul' -> 'encoder.layer.0.attention.self.query.weight'
            named[n.name.strip("/").replace("/MatMul", "").replace("/", ".") + ".weight"] = n.input[1]
    for k in init:
        if not k.startswith("onnx::"):
            named[k] = k
    return named


class Bert(torch.nn.Module):
    """BERT encoder (post-LN, exact GELU, eps 1e-12) with the bge-small-en-v1.5 ONNX weights."""

    def __init__(self, path):
        super().__init__()
        g = onnx.load(path).graph
        init = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        named = {k: init[v] for k, v in initializer_names(g).items()}
        self.w = {k: torch.from_numpy(np.ascontiguousarray(v)).float() for k, v in named.items()}
        self.layers = sum(1 for k in self.w if k.endswith("attention.self.query.weight"))
        self.hidden = self.w["embeddings.word_embeddings.weight"].shape[1]
        self.heads = 12

    @staticmethod
    def _ln(x, w, b):
        mu = x.mean(-1, keepdim=True)
        var = (x - mu).pow(2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + 1e-12) * w + b

    @torch.no_grad()
    def forward(self, input_ids, attention_mask, token_type_ids=None, split=None):
        """last_hidden_state [B, L, H]; with `split`, (the states after `split` layers, last_hidden_state); with a
        tuple of layers for `split`, (a list of the states after each, last_hidden_state)."""
        w = self.w
        B, L = input_ids.shape
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = (w["embeddings.word_embeddings.weight"][input_ids]
             + w["embeddings.token_type_embeddings.weight"][token_type_ids]
             + w["embeddings.position_embeddings.weight"][:L][None])
        x = self._ln(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        bias = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        H, dh = self.heads, self.hidden // self.heads
        splits = split if isinstance(split, tuple) else (split,)
        mids = {}
        for i in range(self.layers):
            if i in splits:
                mids[i] = x
            p = f"encoder.layer.{i}."
            q = (x @ w[p + "attention.self.query.weight"] + w[p + "attention.self.query.bias"]).view(B, L, H, dh).transpose(1, 2)
            k = (x @ w[p + "attention.self.key.weight"] + w[p + "attention.self.key.bias"]).view(B, L, H, dh).transpose(1, 2)
            v = (x @ w[p + "attention.self.value.weight"] + w[p + "attention.self.value.bias"]).view(B, L, H, dh).transpose(1, 2)
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + bias, dim=-1)
            c = (a @ v).transpose(1, 2).reshape(B, L, self.hidden)
            c = c @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
            x = self._ln(c + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            h = x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"]
            h = 0.5 * h * (1.0 + torch.erf(h / math.sqrt(2.0)))
            h = h @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"]
            x = self._ln(h + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        if split is None:
            return x
        return ([mids[i] for i in split], x) if isinstance(split, tuple) else (mids[split], x)


def check(path, ids_list):
    """Max abs difference between Bert and the ONNX graph runner on a padded batch."""
    L = max(len(i) for i in ids_list)
    ids = torch.zeros(len(ids_list), L, dtype=torch.int64)
    mask = torch.zeros(len(ids_list), L, dtype=torch.int64)
    for r, i in enumerate(ids_list):
        ids[r, :len(i)] = torch.tensor(i)
        mask[r, :len(i)] = 1
    a = OnnxGraphRunner(path)(ids, mask, torch.zeros_like(ids))
    b = Bert(path)(ids, mask)
    d = (a - b).abs() * mask[..., None]
    return float(d.max()), a, b
