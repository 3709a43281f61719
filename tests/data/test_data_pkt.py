"""PKT: key tokens from offsets, weights clip(|non-key|/|key|, 1, w_max), labels on the trained turn only."""

import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from tl_fast.data import (
    IGNORE_INDEX,
    SAMPLE_DATA,
    SHIPPED_TOKENIZER,
    PKTConfig,
    RenderConfig,
    build_sft_dataset,
    drop_long,
    encode_sample,
    load_trajectories,
    mae_split,
    show_weights,
)
from tl_fast.data.render import render_sample
from tl_fast.data.types import Call, Message, Sample, Tool


@pytest.fixture(scope="module")
def shipped():
    return AutoTokenizer.from_pretrained(SHIPPED_TOKENIZER)


@pytest.fixture(scope="module")
def samples():
    trajs, _ = load_trajectories(SAMPLE_DATA)
    return mae_split(trajs[::6])[0]  # 50 trajectories across the tool categories


@pytest.fixture(scope="module")
def metaspace(samples):
    """A SentencePiece-like tokenizer (Metaspace pre-tokenizer, BPE) trained here: another family."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.Replace("\n", "<0x0A>")
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    texts = [render_sample(s).text for s in samples[:30]]
    tok.train_from_iterator(
        texts, trainers.BpeTrainer(vocab_size=600, special_tokens=["<unk>", "<s>", "</s>"])
    )
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def _paper_sample(target: str) -> Sample:
    tools = [
        Tool(
            "getPapersByKeywords",
            "Search papers by keywords.",
            {"keywords": {"type": "string"}},
            ("keywords",),
        ),
        Tool("getPaperDetails", "Details of a paper.", {"paper_id": {"type": "string"}}, ("paper_id",)),
        Tool("finish", "Finish the task.", {"answer": {"type": "string"}}, ("answer",)),
    ]
    call = Call(
        target, {"keywords": "tool learning"} if target == "getPapersByKeywords" else {"answer": "done"}
    )
    return Sample(
        "fig",
        tools,
        [Message("user", "Find papers on tool learning.")],
        Message("assistant", calls=(call,)),
        1,
    )


def _one_call(tools: list[Tool], call: Call) -> Sample:
    return Sample("w", tools, [Message("user", "q")], Message("assistant", calls=(call,)), 1)


def test_key_tokens_of_the_papers_figure(shipped):
    # Paper, PKT figure: choosing getPapersByKeywords among getPaperDetails and finish. The shipped
    # tokenizer splits " getPapersByKeywords" into Ġget|P|a|per|s|By|Keywords and " getPaperDetails" into
    # Ġget|P|a|per|D|..., so the key tokens are the first name token "Ġget" and "s", where the two names
    # part; finish shares no prefix and adds none.
    enc = encode_sample(_paper_sample("getPapersByKeywords"), shipped)
    tokens = shipped.convert_ids_to_tokens(enc["input_ids"])
    assert [tokens[k] for k in enc["key_positions"]] == ["Ġget", "s"]
    trained = [i for i, lab in enumerate(enc["labels"]) if lab != IGNORE_INDEX]
    assert tokens[trained[0]] == "Ġget" and tokens[trained[-1]] == "</s>"
    # " getPapersByKeywords(keywords='tool learning')" + EOS: 19 trained tokens, 2 key: w = 17 / 2
    assert len(trained) == 19 and {enc["token_weights"][k] for k in enc["key_positions"]} == {8.5}
    # finish shares no first token with the others: only its first token is key
    enc = encode_sample(_paper_sample("finish"), shipped)
    assert [shipped.convert_ids_to_tokens(enc["input_ids"])[k] for k in enc["key_positions"]] == ["Ġfinish"]


def test_a_name_that_is_a_prefix_of_another(shipped):
    # get vs get_all (the module docstring's example): " get(x=1)" is Ġget|(|x|=|1|) and " get_all()" is
    # Ġget|_|all|(|): the names part at the token after "get", "(" for get and "_" for get_all. So each call
    # has 2 key tokens: get(x=1) + EOS has 7 trained tokens, w = 5 / 2; get_all() + EOS has 6, w = 4 / 2.
    tools = [Tool("get", "", {"x": {"type": "integer"}}, ("x",)), Tool("get_all", "", {}, ())]
    for call, keys, w in (
        (Call("get", {"x": 1}), ["Ġget", "("], 2.5),
        (Call("get_all", {}), ["Ġget", "_"], 2.0),
    ):
        enc = encode_sample(_one_call(tools, call), shipped)
        assert shipped.convert_ids_to_tokens([enc["input_ids"][k] for k in enc["key_positions"]]) == keys
        assert {enc["token_weights"][k] for k in enc["key_positions"]} == {w}


def _reference_keys(sample, tokenizer, render):
    """Key tokens by brute force: re-render the whole sample with each other tool's name in the call, tokenize
    both full texts and compare the token sequences from the first token that reaches into the name."""
    r = render_sample(sample, render, tokenizer)
    ns, ne = r.calls[0].name_span

    def from_name(text):
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        k0 = next(i for i, (s, e) in enumerate(enc["offset_mapping"]) if e > s and e > ns)
        return k0, enc["input_ids"][k0:]

    k0, chosen = from_name(r.text)
    keys = {k0}
    for tool in sample.tools:
        if tool.name != sample.target.calls[0].name:
            _, other = from_name(r.text[:ns] + tool.name + r.text[ne:])
            d = 0
            while chosen[d] == other[d]:
                d += 1
            if d:
                keys.add(k0 + d)
    return sorted(keys)


@pytest.mark.parametrize("style", ["python", "json"])
@pytest.mark.parametrize("which", ["shipped", "metaspace"])
def test_key_tokens_match_brute_force_reference(samples, style, which, request):
    tokenizer = request.getfixturevalue(which)
    render = RenderConfig(call_style=style, tool_style=style)
    checked_divergence = 0
    for s in samples[:25]:
        enc = encode_sample(s, tokenizer, render)
        ref = _reference_keys(s, tokenizer, render)
        assert enc["key_positions"] == ref, s.id
        checked_divergence += len(ref) > 1
    assert checked_divergence >= 3  # real tool lists share prefixes (get_..., search_...)


def test_weights_labels_and_options(samples, shipped):
    s = next(s for s in samples if s.target.calls[0].arguments and not s.is_final)
    enc = encode_sample(s, shipped, pkt=PKTConfig(w_max=9.0))
    ids, labels, w = enc["input_ids"], enc["labels"], enc["token_weights"]
    assert len(ids) == len(labels) == len(w)
    trained = [i for i, lab in enumerate(labels) if lab != IGNORE_INDEX]
    assert trained == list(range(trained[0], len(ids)))  # the target turn is the contiguous tail
    assert all(labels[i] == ids[i] for i in trained) and all(w[i] == 0.0 for i in range(trained[0]))
    keys = enc["key_positions"]
    assert len({w[k] for k in keys}) == 1 and w[keys[0]] > 1.0  # one weight for every key token
    assert all(w[i] == 1.0 for i in trained if i not in keys)
    off = encode_sample(s, shipped, pkt=PKTConfig(enabled=False))
    assert off["key_positions"] == [] and set(off["token_weights"][trained[0] :]) == {1.0}
    with_args = encode_sample(s, shipped, pkt=PKTConfig(arg_name_keys=True))
    assert set(keys) < set(with_args["key_positions"])
    arg_tokens = shipped.convert_ids_to_tokens(
        [ids[k] for k in sorted(set(with_args["key_positions"]) - set(keys))]
    )
    assert "".join(arg_tokens).replace("Ġ", "") in "".join(s.target.calls[0].arguments)
    text = show_weights(enc, shipped)
    assert text.count("*") == len(keys) and f"w={w[keys[0]]:<5.2f}" in text


def _trained(enc, tokenizer) -> list[tuple[str, float]]:
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"])
    weights = enc["token_weights"]
    return [(tokens[i], weights[i]) for i, lab in enumerate(enc["labels"]) if lab != IGNORE_INDEX]


def test_weight_clip_bounds_hand_computed(shipped):
    """w = clip(|non-key| / |key|, 1, w_max) at both bounds and inside, counted by hand from the tokens."""
    paper = _paper_sample("getPapersByKeywords").tools
    # upper bound: 16 trained tokens, the only key is "Ġfinish" (no other tool starts with it): 15 / 1 -> 9
    long = _one_call(paper, Call("finish", {"answer": "done, see the list above"}))
    got = _trained(encode_sample(long, shipped), shipped)
    assert [t for t, _ in got] == [
        "Ġfinish", "(", "answer", "='", "d", "one", ",", "Ġse", "e", "Ġthe", "Ġlist", "Ġab", "o", "ve", "')",
        "</s>",
    ]  # fmt: skip
    assert [w for _, w in got] == [9.0] + [1.0] * 15
    assert _trained(encode_sample(long, shipped, pkt=PKTConfig(w_max=4.0)), shipped)[0] == ("Ġfinish", 4.0)
    # inside: " finish(answer='done')" + EOS is 8 tokens, 1 key: 7 / 1 = 7
    short = _one_call(paper, Call("finish", {"answer": "done"}))
    assert [w for _, w in _trained(encode_sample(short, shipped), shipped)] == [7.0] + [1.0] * 7
    # lower bound: with argument names as keys, "Ġab" + q|x|z|j|v are 6 keys of 11 trained tokens:
    # 5 / 6 < 1 -> 1, so every trained token weighs 1
    tools = [Tool("ab", "", {"qxzjv": {"type": "integer"}}, ())]
    sample = _one_call(tools, Call("ab", {"qxzjv": 1}))
    enc = encode_sample(sample, shipped, pkt=PKTConfig(arg_name_keys=True))
    got = _trained(enc, shipped)
    assert [t for t, _ in got] == ["Ġab", "(", "q", "x", "z", "j", "v", "=", "1", ")", "</s>"]
    assert len(enc["key_positions"]) == 6 and [w for _, w in got] == [1.0] * 11
    # the same call without argument-name keys: 1 key, 10 / 1 -> clipped to 9
    enc = encode_sample(sample, shipped)
    assert [w for _, w in _trained(enc, shipped)] == [9.0] + [1.0] * 10


def test_build_dataset_with_tokenizer_template(samples, shipped):
    ds = build_sft_dataset(samples[:8], shipped, RenderConfig(chat_template="tokenizer"))
    assert set(ds.column_names) == {"id", "input_ids", "labels", "token_weights", "num_key"}
    ref = [encode_sample(s, shipped) for s in samples[:8]]  # paper template: the same tokens here
    assert ds["input_ids"] == [r["input_ids"] for r in ref] and ds["token_weights"] == [
        r["token_weights"] for r in ref
    ]
    short, dropped = drop_long(ds, max_length=min(map(len, ds["input_ids"])))
    assert len(short) >= 1 and dropped == len(ds) - len(short)


def test_slow_tokenizer_is_refused(samples, shipped):
    class Slow:
        is_fast = False

    with pytest.raises(TypeError, match="fast"):
        encode_sample(samples[0], Slow())
