"""Trains the small byte-level BPE shipped in tl_fast/assets/tokenizer/ (tests' and demo's default).

    .venv/bin/python scripts/train_tokenizer.py   # reads tl_fast/assets/data/rotllama_sample.jsonl.gz

Corpus: every vendored trajectory rendered as its last sample with both tool/call styles (python and json)
in the paper's chat template, in file order. BPE over a byte-level alphabet (no unknown token): 2,048
tokens plus <s>, </s>, <pad>; BOS is prepended by the post-processor; the paper's chat template is stored
as `chat_template`. The `tokenizers` trainer is deterministic for a fixed corpus; the script checks that
by training twice and comparing the serialized models.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from tl_fast.data.config import RenderConfig
from tl_fast.data.formats import load_trajectories
from tl_fast.data.mae import mae_split
from tl_fast.data.render import PAPER_CHAT_TEMPLATE, render_sample

REPO = Path(__file__).resolve().parents[1]
SPECIALS = ["<s>", "</s>", "<pad>"]


def corpus(path: Path) -> list[str]:
    trajectories, _ = load_trajectories(path)
    samples, _ = mae_split(trajectories)
    finals = [s for s in samples if s.is_final]
    texts = []
    for style in ("python", "json"):
        cfg = RenderConfig(call_style=style, tool_style=style)
        texts += [render_sample(s, cfg).text for s in finals]
    return texts


def train(texts: list[str], vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
            ),
        ]
    )
    return tok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO / "tl_fast/assets/data/rotllama_sample.jsonl.gz"))
    ap.add_argument("--vocab-size", type=int, default=2048 + len(SPECIALS))
    ap.add_argument("--out", default=str(REPO / "tl_fast/assets/tokenizer"))
    args = ap.parse_args()

    texts = corpus(Path(args.data))
    tok = train(texts, args.vocab_size)
    if tok.to_str() != train(texts, args.vocab_size).to_str():
        raise SystemExit("BPE training is not deterministic on this machine; not saving")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", model_max_length=32768
    )
    fast.chat_template = PAPER_CHAT_TEMPLATE
    fast.save_pretrained(args.out)
    # Older transformers (4.x) know the class by this name and read the template from the config.
    config_path = Path(args.out) / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.update(tokenizer_class="PreTrainedTokenizerFast", chat_template=PAPER_CHAT_TEMPLATE)
    config.pop("backend", None)
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    chars = sum(map(len, texts))
    tokens = sum(len(e.ids) for e in tok.encode_batch(texts))
    print(
        f"saved {args.out}: vocab {tok.get_vocab_size()}, corpus {len(texts)} texts, "
        f"{chars / tokens:.2f} chars/token"
    )


if __name__ == "__main__":
    main()
