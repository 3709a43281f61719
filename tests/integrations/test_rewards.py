"""The IRM reward through each RL framework's contract: TRL's reward function (plain and conversational
completions, JSON or object columns), verl's compute_score and OpenRLHF's reward_func, each loaded from its
file the way those frameworks load it; special tokens, malformed completions and malformed data."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch

from tl_fast.reward import CATEGORIES, RewardTable, categorize

from .conftest import FORECAST, WEATHER

TOOLS = [WEATHER, FORECAST]
GOLD = "get_weather(city='Paris')"
LABEL = json.dumps({"tools": TOOLS, "gold": GOLD})
OUTPUTS = {  # completion -> category, by hand
    "get_weather(city='Paris')": "correct",
    "get_weather(city='Paris')<|im_end|>": "correct",
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>': "correct",
    "get_weather(city='Rome')</s>": "value_error",
    "get_weather_forecast(city='Paris')": "wrong_tool",
    "get_time(city='Paris')": "tool_hallucination",
    "get_weather()": "param_missing",
    "get_weather(city='Paris'": "format_error",  # a call cut short is malformed
    "the weather is nice": "irrelevant",  # prose makes no call: an abstention, not a malformed call
    "": "irrelevant",
    "<think>\nThe user wants Paris.\n</think>\n\nget_weather(city='Paris')": "correct",  # reasoning model
    "<think>\nget_weather(city='Paris') is what I will call": "format_error",  # unterminated: no answer
}


def load_like_the_framework(module_name: str):
    """verl and OpenRLHF load a reward file by path (importlib.util.spec_from_file_location)."""
    import tl_fast.integrations

    path = f"{tl_fast.integrations.__path__[0]}/{module_name}.py"
    spec = importlib.util.spec_from_file_location("custom_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------------------ TRL


def trl_reward(**kw):
    pytest.importorskip("trl")
    from tl_fast.integrations.trl import IRMReward

    return IRMReward(**kw)


def test_irm_reward_plain_completions_and_metric_logging():
    reward = trl_reward()
    texts = list(OUTPUTS)
    logged, extra = {}, {}
    got = reward(
        prompts=["p"] * len(texts), completions=texts, tools=[LABEL and json.dumps(TOOLS)] * len(texts),
        gold=[GOLD] * len(texts), log_metric=logged.__setitem__, log_extra=extra.__setitem__,
        trainer_state=None,
    )  # fmt: skip
    want = [RewardTable().reward(c) for c in OUTPUTS.values()]
    assert got == want
    # without a reasoning block the reward is categorize()'s of the raw completion
    plain = [i for i, t in enumerate(texts) if "<think>" not in t]
    assert [got[i] for i in plain] == [categorize(texts[i], TOOLS, GOLD).reward for i in plain]
    assert extra["category"] == list(OUTPUTS.values())
    assert set(logged) == {f"irm/{c}" for c in CATEGORIES}
    assert logged["irm/correct"] == pytest.approx(4 / len(texts))
    assert logged["irm/format_error"] == pytest.approx(2 / len(texts))
    assert logged["irm/irrelevant"] == pytest.approx(2 / len(texts))


def test_irm_reward_conversational_completions_and_object_columns():
    reward = trl_reward()
    completions = [
        [{"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]}],
        [{"role": "assistant", "content": "Let me look.", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}]}],
        [{"role": "assistant", "content": "get_weather_forecast(city='Paris')"}],
        [{"role": "assistant", "tool_calls": [
            {"function": {"name": "get_weather", "arguments": "{bad json"}}]}],
        [{"role": "assistant", "content": [{"type": "text", "text": "get_weather(city='Paris')"}]},
         {"role": "tool", "content": "21 C"}, {"role": "assistant", "content": "ignored"}],
    ]  # fmt: skip
    # gold as a structured call with Arrow's null padding of a key another row had
    gold = {"name": "get_weather", "arguments": {"city": "Paris", "days": None}}
    got = reward(prompts=[[]] * 5, completions=completions, tools=[TOOLS] * 5, gold=[gold] * 5)
    assert got == [1.0, -0.25, -1.5, -2.0, 1.0]


def test_irm_reward_schemes_and_tables_plug_in():
    texts = ["get_weather(city='Paris')", "get_weather(city='Rome')"]
    kw = dict(prompts=["p", "p"], completions=texts, tools=[TOOLS] * 2, gold=[GOLD] * 2)
    assert trl_reward(table=RewardTable(value_error=-0.9))(**kw) == [1.0, -0.9]
    binary = lambda verdicts, preds, tools, golds: [float(v.correct) for v in verdicts]  # noqa: E731
    assert trl_reward(reward=binary)(**kw) == [1.0, 0.0]
    renamed = trl_reward(tools_column="t", gold_column="g")
    assert renamed(prompts=kw["prompts"], completions=texts, t=kw["tools"], g=kw["gold"]) == [1.0, -0.25]


def test_irm_reward_bad_data_raises_one_clear_error():
    reward = trl_reward()
    ok = dict(prompts=["p"], completions=["get_weather(city='Paris')"])
    with pytest.raises(ValueError, match="no 'gold' column"):
        reward(**ok, tools=[TOOLS])
    with pytest.raises(ValueError, match="row 0 of column 'tools'.*not valid JSON"):
        reward(**ok, tools=['[{"name": "get_weather"'], gold=[GOLD])
    with pytest.raises(ValueError, match="data bug"):
        reward(**ok, tools=[TOOLS], gold=["get_weather(city="])
    with pytest.raises(ValueError, match="data bug"):
        reward(**ok, tools=[[{"parameters": {}}]], gold=[GOLD])


# ------------------------------------------------------------------------------------------------ verl


def test_verl_compute_score_loaded_by_path():
    verl = load_like_the_framework("verl")
    keys = None
    for text, category in OUTPUTS.items():
        for label in (LABEL, {"tools": TOOLS, "gold": GOLD}):
            r = verl.compute_score("tl/rotbench", text, label, extra_info={"index": 0})
            assert r["category"] == category and r["score"] == RewardTable().reward(category)
            assert r["correct"] == float(category == "correct")
            keys = keys or set(r)
            assert set(r) == keys  # verl builds reward_extra_info columns from the keys of every result


def test_verl_parquet_style_labels_and_the_batch_manager():
    verl = load_like_the_framework("verl")
    # a label read back from parquet: lists as numpy arrays, struct fields padded with None
    label = {
        "tools": np.array([{"name": "get_weather", "parameters": {"type": "object", "properties": {
            "city": {"type": "string"}, "unit": None}, "required": np.array(["city"])}}], dtype=object),
        "gold": {"name": "get_weather", "arguments": {"city": "Paris", "days": None}},
    }  # fmt: skip
    assert verl.compute_score(None, "get_weather(city='Paris')", label)["category"] == "correct"
    texts = list(OUTPUTS)
    batch = verl.compute_score_batch(["d"] * len(texts), texts, [LABEL] * len(texts), [None] * len(texts))
    assert [r["category"] for r in batch] == list(OUTPUTS.values())
    assert batch == [verl.compute_score("d", t, LABEL) for t in texts]


def test_verl_malformed_ground_truth_is_a_data_error():
    verl = load_like_the_framework("verl")
    for bad in ('{"tools": [', json.dumps({"gold": GOLD}), json.dumps({"tools": TOOLS, "gold": "f(("}), "x"):
        with pytest.raises(ValueError, match="ground_truth"):
            verl.compute_score("d", "get_weather(city='Paris')", bad)


# ------------------------------------------------------------------------------------------------ OpenRLHF


def test_openrlhf_reward_func_on_decoded_queries():
    openrlhf = load_like_the_framework("openrlhf")
    prompt = "<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n"
    texts = list(OUTPUTS)
    # OpenRLHF decodes prompt + response with skip_special_tokens=False: left padding, EOS and padding stay
    queries = [
        "<|endoftext|>" * (i % 3) + prompt + t + "<|im_end|>" + "<|endoftext|>" * 2
        for i, t in enumerate(texts)
    ]
    queries[0] = "<pad><pad>" + prompt + texts[0] + "<pad>"
    out = openrlhf.reward_func(queries, [prompt] * len(texts), [LABEL] * len(texts))
    want = [RewardTable().reward(c) for c in OUTPUTS.values()]
    assert out["rewards"].dtype == torch.float32 and out["rewards"].tolist() == want
    assert out["scores"].tolist() == [float(c == "correct") for c in OUTPUTS.values()]
    assert out["extra_logs"]["irm/correct"] == pytest.approx(4 / len(texts))
    assert out["extra_logs"]["irm/prompt_not_found"] == 0.0


def test_openrlhf_prompt_that_does_not_decode_back_verbatim():
    openrlhf = load_like_the_framework("openrlhf")
    prompt = "System: tools...\nUser: Weather in Paris, please, for the trip we planned?\nAssistant:"
    query = "<s> System: tools... \nUser: Weather in Paris, please, for the trip we planned?\nAssistant:"
    out = openrlhf.reward_func(
        [query + " get_weather(city='Paris')</s>"], [prompt], [{"tools": TOOLS, "gold": GOLD}]
    )
    assert out["rewards"].tolist() == [1.0] and out["extra_logs"]["irm/prompt_not_found"] == 0.0
    out = openrlhf.reward_func(["something else entirely"], [prompt], [LABEL])
    assert out["rewards"].tolist() == [-2.0] and out["extra_logs"]["irm/prompt_not_found"] == 1.0
    with pytest.raises(ValueError, match="label of rollout 0"):
        openrlhf.reward_func(["q"], ["p"], ["not json"])
