"""Which Linear layers of a model int8 hurts: int8 dynamic quantization simulated in torch (weights
per-channel symmetric int8; activations per-tensor uint8, as ONNX Runtime's DynamicQuantizeLinear,
or per token, symmetric int8, as index/onnx_backend.py's PER_TOKEN_BY_TYPE layers), with
SmoothQuant (calibrated as index/onnx_backend.py does) on chosen layers and others left in fp32.
Prints the cosine of mean-pooled passage vectors to the fp32 model's, per recipe.

    PYTHONPATH=. HF_HUB_OFFLINE=1 python scripts/research/int8_simulate.py ~/.cache/byline/models/all-mpnet-base-v2 --texts 40

Figures in docs/models.md. Texts: the first passages of ../shared/data/bbc_news, cut at 1,000 characters.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from index import onnx_backend as ob  # noqa: E402

QKV = ("attention.attn.q", "attention.attn.k", "attention.attn.v")
RECIPES = [  # (label, smoothed suffixes or None for every Linear, suffixes kept in fp32[, suffixes per token])
    ("BERT's names only", ob.SMOOTHED_SUFFIXES, ()),
    ("+ smooth q/k/v", ob.SMOOTHED_SUFFIXES + QKV, ()),
    ("+ smooth q/k/v and attn.o", ob.SMOOTHED_SUFFIXES + QKV + ("attn.o",), ()),
    ("+ smooth q/k/v and output.dense", ob.SMOOTHED_SUFFIXES + QKV + ("output.dense",), ()),
    ("smooth every Linear", None, ()),
    ("smooth every other Linear, output.dense fp32", None, ("output.dense",)),
    ("smooth every other Linear, output.dense int8 per token (unsmoothed)", None, (), ("output.dense",)),
]


def main() -> None:
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel

    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--texts", type=int, default=40)
    args = parser.parse_args()
    spec = ob.pipeline(args.model_dir)
    base = AutoModel.from_pretrained(str(spec["transformer"]), local_files_only=True,
                                     attn_implementation="eager").eval()
    maxima = ob._calibration_maxima(base, spec, torch)
    tokenizer = Tokenizer.from_file(str(spec["transformer"] / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=256)
    texts = []
    with open(ROOT.parent / "shared" / "data" / "bbc_news" / "corpus.jsonl") as fh:
        for line in fh:
            record = json.loads(line)
            texts.append((record["title"] + "\n" + record["text"])[:1000])
            if len(texts) >= args.texts:
                break

    def quantize_activations(x):
        low, high = torch.clamp(x.min(), max=0), torch.clamp(x.max(), min=0)
        scale = (high - low) / 255
        zero = torch.round(-low / scale).clamp(0, 255)
        return (torch.round(x / scale + zero).clamp(0, 255) - zero) * scale

    def quantize_per_token(x):
        scale = (x.abs().amax(dim=-1, keepdim=True) / 127).clamp(min=1e-12)
        return torch.round(x / scale).clamp(-127, 127) * scale

    class Simulated(torch.nn.Module):
        def __init__(self, linear, input_max, per_token=False):
            super().__init__()
            self.per_token = per_token
            w = linear.weight.detach().float()
            self.inverse = None
            if input_max is not None:
                a = ob.SMOOTH_ALPHA
                s = (input_max.clamp(min=1e-5) ** a / w.abs().amax(dim=0).clamp(min=1e-5) ** (1 - a)).clamp(min=1e-5)
                w, self.inverse = w * s[None, :], 1 / s
            scale = (w.abs().amax(dim=1) / 127).clamp(min=1e-12)
            self.w = torch.round(w / scale[:, None]).clamp(-127, 127) * scale[:, None]
            self.b = linear.bias

        def forward(self, x):
            if self.inverse is not None:
                x = x * self.inverse
            y = (quantize_per_token(x) if self.per_token else quantize_activations(x)) @ self.w.t()
            return y if self.b is None else y + self.b

    def encode(model):
        rows = []
        with torch.no_grad():
            for text in texts:
                ids = torch.tensor([tokenizer.encode(text.lower() if spec["lowercase"] else text).ids])
                hidden = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state[0]
                rows.append(torch.nn.functional.normalize(hidden.mean(0), dim=0))
        return torch.stack(rows)

    reference = encode(base)
    for label, smoothed, kept, *rest in RECIPES:
        per_token = rest[0] if rest else ()
        model = copy.deepcopy(base)
        modules = dict(model.named_modules())
        for name, module in list(modules.items()):
            if type(module) is torch.nn.Linear and not (kept and name.endswith(kept)):
                parent, _, attribute = name.rpartition(".")
                token = bool(per_token) and name.endswith(per_token)
                smooth = name in maxima and (smoothed is None or name.endswith(smoothed)) and not token
                setattr(modules[parent], attribute, Simulated(module, maxima[name] if smooth else None, token))
        cosines = (encode(model) * reference).sum(dim=1)
        print(f"{label}: cosine mean {cosines.mean():.4f}, min {cosines.min():.4f}", flush=True)


if __name__ == "__main__":
    main()
