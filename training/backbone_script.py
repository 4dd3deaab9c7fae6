"""The bundle's backbone.pt: bge-small-en-v1.5 as TorchScript without its weights (docs/MODEL-CONTRACT.md, "Backbone
(TorchScript)").

The 133 MB of weights stay in the Maven artifact's ONNX file; the script holds the graph only (a few kB) and takes
the weights as its third input, a list of tensors in the order its `weight_names()` method gives: the ONNX
initializer each comes from, used as stored (the MatMul weights [in, out], x @ w). `weight_shapes()` gives their
shapes, so a runtime can check the file it reads them from. `forward(input_ids, attention_mask, weights,
memory_layer)` returns (the last layer's states, the states after `memory_layer` layers), both [B, L, hidden], as the
ONNX backbone's last_hidden_state and backbone.memoryOutput; token_type_ids are all 0.

    /usr/bin/python3 -m training.backbone_script [ONNX] [MODEL_DIR]

writes MODEL_DIR/backbone.pt (defaults: target/backbone/bge-small-en-v1.5.onnx, models/cmt-bge-small-squad), checks
it against training/backbone.py's Bert (itself checked against the ONNX graph) and adds files.backbone to
MODEL_DIR/model.json.
"""
import json
import math
import os
import sys
from typing import List, Tuple

import onnx
import torch
from onnx import numpy_helper

from training.backbone import Bert, initializer_names

EMBEDDINGS = ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
              "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"]
LAYER = ["attention.self.query.weight", "attention.self.query.bias", "attention.self.key.weight",
         "attention.self.key.bias", "attention.self.value.weight", "attention.self.value.bias",
         "attention.output.dense.weight", "attention.output.dense.bias", "attention.output.LayerNorm.weight",
         "attention.output.LayerNorm.bias", "intermediate.dense.weight", "intermediate.dense.bias",
         "output.dense.weight", "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias"]
FILE = "backbone.pt"


def bert_names(layers):
    """The Hugging Face names of the script's weights, in input order."""
    return EMBEDDINGS + [f"encoder.layer.{i}.{n}" for i in range(layers) for n in LAYER]


class ScriptedBert(torch.nn.Module):
    """BERT encoder (post-LN, exact GELU, eps 1e-12) as training/backbone.py's Bert, weights as an input."""

    def __init__(self, names: List[str], shapes: List[List[int]], layers: int, heads: int, hidden: int):
        super().__init__()
        self.names = names
        self.shapes = shapes
        self.layers = layers
        self.heads = heads
        self.hidden = hidden

    @torch.jit.export
    def weight_names(self) -> List[str]:
        return self.names

    @torch.jit.export
    def weight_shapes(self) -> List[List[int]]:
        return self.shapes

    def _ln(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        mu = x.mean(-1, keepdim=True)
        var = (x - mu).pow(2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + 1e-12) * w + b

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, weights: List[torch.Tensor],
                memory_layer: int) -> Tuple[torch.Tensor, torch.Tensor]:
        B = input_ids.size(0)
        L = input_ids.size(1)
        H = self.heads
        dh = self.hidden // H
        x = weights[0][input_ids] + weights[2][0] + weights[1][:L].unsqueeze(0)
        x = self._ln(x, weights[3], weights[4])
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -3.4028234663852886e38
        scale = 1.0 / math.sqrt(dh)
        memory = x
        for i in range(self.layers):
            if i == memory_layer:
                memory = x
            o = 5 + 16 * i
            q = (x @ weights[o] + weights[o + 1]).view(B, L, H, dh).transpose(1, 2)
            k = (x @ weights[o + 2] + weights[o + 3]).view(B, L, H, dh).transpose(1, 2)
            v = (x @ weights[o + 4] + weights[o + 5]).view(B, L, H, dh).transpose(1, 2)
            a = torch.softmax(q @ k.transpose(-1, -2) * scale + bias, dim=-1)
            c = (a @ v).transpose(1, 2).reshape(B, L, self.hidden)
            c = c @ weights[o + 6] + weights[o + 7]
            x = self._ln(c + x, weights[o + 8], weights[o + 9])
            h = x @ weights[o + 10] + weights[o + 11]
            h = 0.5 * h * (1.0 + torch.erf(h / math.sqrt(2.0)))
            h = h @ weights[o + 12] + weights[o + 13]
            x = self._ln(h + x, weights[o + 14], weights[o + 15])
        if memory_layer >= self.layers:
            memory = x
        return x, memory


def script(onnx_path):
    """(the scripted module, its weights in input order as float32 tensors) for the ONNX file."""
    graph = onnx.load(onnx_path).graph
    onnx_names = initializer_names(graph)
    layers = sum(1 for k in onnx_names if k.endswith("attention.self.query.weight"))
    init = {i.name: i for i in graph.initializer}
    names = [onnx_names[n] for n in bert_names(layers)]
    shapes = [[int(d) for d in init[n].dims] for n in names]
    hidden = shapes[0][1]
    module = torch.jit.script(ScriptedBert(names, shapes, layers, 12, hidden))
    weights = [torch.from_numpy(numpy_helper.to_array(init[n]).copy()).float() for n in names]
    return module, weights


def sample_batch():
    torch.manual_seed(0)
    ids = torch.randint(1000, 29000, (3, 21))
    ids[:, 0] = 101
    mask = torch.ones(3, 21, dtype=torch.int64)
    mask[1, 13:] = 0
    mask[2, 5:] = 0
    ids[1, 12], ids[2, 4] = 102, 102
    ids[mask == 0] = 0
    return ids, mask


def check(module, weights, onnx_path, memory_layer):
    """Max abs differences (last, memory) between the script and Bert over the real tokens of a padded batch."""
    ids, mask = sample_batch()
    last, memory = module(ids, mask, weights, memory_layer)
    want_memory, want_last = Bert(onnx_path)(ids, mask, split=memory_layer)
    real = mask[..., None].float()
    return float(((last - want_last).abs() * real).max()), float(((memory - want_memory).abs() * real).max())


def main(argv):
    onnx_path = argv[0] if argv else "target/backbone/bge-small-en-v1.5.onnx"
    model_dir = argv[1] if len(argv) > 1 else "models/cmt-bge-small-squad"
    info_path = os.path.join(model_dir, "model.json")
    with open(info_path) as f:
        info = json.load(f)
    memory_layer = info["backbone"]["memoryLayer"]
    module, weights = script(onnx_path)
    d_last, d_memory = check(module, weights, onnx_path, memory_layer)
    print(f"script vs Bert: max |diff| last {d_last:.2e}, after layer {memory_layer} {d_memory:.2e}")
    if max(d_last, d_memory) > 1e-4:
        raise SystemExit("the scripted backbone does not reproduce training/backbone.py's Bert")
    out = os.path.join(model_dir, FILE)
    module.save(out)
    # the saved file, as a runtime loads it
    d_last, d_memory = check(torch.jit.load(out), weights, onnx_path, memory_layer)
    if max(d_last, d_memory) > 1e-4:
        raise SystemExit(f"{out} as loaded does not reproduce Bert")
    info["files"]["backbone"] = FILE
    with open(info_path, "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    print(f"wrote {out} ({os.path.getsize(out)} bytes, {len(weights)} weight inputs) and files.backbone in "
          f"{info_path}")


if __name__ == "__main__":
    main(sys.argv[1:])
