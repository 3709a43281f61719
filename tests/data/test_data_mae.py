"""MAE: which tool outputs are errors (ours vs the authors' rule) and how trajectories split into samples."""

import pytest

from tl_fast.data import SAMPLE_DATA, MAEConfig, load_trajectories, mae_split
from tl_fast.data.mae import authors_rule_flags, tool_error
from tl_fast.data.types import Call, Message, Tool, Trajectory

# (tool output, our reason or None, flagged by the authors' rule) -- outputs taken from the RoTLLaMA corpus
CASES = [
    ('{"error": "The input Toronto may not be the name of any airport."}', "error_field", True),
    (
        '{"get": "teams/", "parameters": {"name": "Lakers"}, "errors": [], "results": 0, "response": []}',
        None,
        True,
    ),
    ('{"status": {"error_code": 0, "error_message": null, "elapsed": 140}, "data": [{"id": 1}]}', None, True),
    ('{"status": {"error_code": 1002, "error_message": "API key missing"}}', "error_field", True),
    ('{"Error Message": "Invalid API call. Please retry."}', "error_field", True),
    ('{"non_field_error": ["No related content was found for this recipe."]}', "error_field", True),
    ('{"status": "FAILED", "comment": "contestId: Contest with id 9012 not found"}', "error_field", False),
    ('{"status": 404, "reason": "Not found"}', "http_status", False),
    ('{"ip": "1.1.1.1", "success": false, "message": "Reserved range"}', "error_field", False),
    ("{'error': 'bad key'}", "error_field", True),  # a Python dict repr
    (
        '{"message": "ok", "errors": {"timezone": ["Not a valid UTC offset"]}, "data": [1, 2',
        "error_field",
        True,
    ),
    ("400 Client Error: Bad Request for url: https://serpapi.com/search?engine=walmart", "http_status", True),
    ("bad request: destination: the length must be exactly 3", "http_status", False),
    ("<html><head><title>Apache Tomcat/6.0.37 - Error report</title></head></html>", "http_status", True),
    ("KeyError: 'results'", "exception", True),
    ("Snowflake:  Could not connect.\nerror:  260004: failed", "exception", True),
    ("get_recipes() missing 1 required positional argument: 'from_'", "pattern", True),
    ("find_places() got an unexpected keyword argument 'minPopulation'", "pattern", True),
    ("'channel_results'", "pattern", False),  # a KeyError's message is the bare key
    ("'<' not supported between instances of 'str' and 'int'", "pattern", True),
    ("Object of type bytes is not JSON serializable", "pattern", False),
    ("name 'linguistic_analysis' is not defined", "pattern", True),
    ("CSV column number error.", None, True),  # mentions "error" mid-sentence: not anchored
    ('[{"title": "Error-correcting codes", "year": 1950}]', None, True),  # a result list about errors
    ("The product could not be found.", None, False),
    ('{"error": "No error", "data": [1]}', None, True),  # an error field saying there is none
    ('{"error": "none", "errors": "0", "data": [1]}', None, True),
    ('{"status": 200, "data": []}', None, False),  # a success status
    ('{"code": "200", "items": []}', None, False),
    ("", None, False),
]


@pytest.mark.parametrize(("output", "reason", "authors"), CASES)
def test_tool_error_vs_authors_rule(output, reason, authors):
    got = tool_error(output)
    assert (got[0] if got else None) == reason
    assert bool(authors_rule_flags(output)) == authors


def test_patterns_are_configurable_and_case_sensitive():
    cfg = MAEConfig(error_patterns=(r"Quota exceeded",), structured_errors=False)
    assert tool_error("Quota exceeded for today", cfg) == ("pattern", "Quota exceeded")
    assert tool_error("quota exceeded for today", cfg) is None
    assert tool_error("Your quota: Quota exceeded", cfg) is None  # anchored at the start
    assert tool_error('{"error": "x"}', cfg) is None  # structured checks off


def _traj():
    tools = [Tool("search", "", {"q": {"type": "string"}}, ("q",)), Tool("finish", "", {"answer": {}}, ())]
    call = lambda name, **kw: Message("assistant", calls=(Call(name, kw),))  # noqa: E731
    return Trajectory(
        "t",
        tools,
        [
            Message("user", "find x"),
            call("search", q="x"),  # turn 1: error
            Message("tool", '{"error": "rate limited"}'),
            call("search", q="x"),  # turn 2: fine
            Message("tool", "[1, 2]"),
            call("ask_to_user", question="which?"),  # turn 3: answered by the user -> kept
            Message("user", "the first"),
            call("search", q="x1"),  # turn 4: unanswered (budget ran out)
            call("finish", answer="done"),  # turn 5: final, always kept
        ],
    )


def test_split_keeps_history_and_final_turn():
    samples, report = mae_split([_traj()])
    assert [s.turn for s in samples] == [2, 3, 5]
    assert report.dropped == {"error_field": 1, "unanswered": 1}
    assert samples[-1].is_final and samples[-1].target.calls[0].name == "finish"
    assert len(samples[0].history) == 3  # the failed call and its output stay in the history (paper)
    assert samples[0].history[1].calls[0].name == "search"


def test_split_cut_at_first_error_and_keep_unanswered():
    samples, report = mae_split([_traj()], MAEConfig(keep_error_history=False))
    assert samples == [] and report.dropped == {"error_field": 1, "after_error_cut": 4}
    samples, report = mae_split([_traj()], MAEConfig(drop_unanswered=False))
    assert [s.turn for s in samples] == [2, 3, 4, 5]


def test_split_counts_add_up_on_real_data():
    trajs, _ = load_trajectories(SAMPLE_DATA)
    samples, report = mae_split(trajs)
    assert report.samples_out == len(samples)
    assert report.samples_out + sum(report.dropped.values()) == report.assistant_turns
    assert report.final_turns == len(trajs)  # every trajectory keeps its final turn
    assert sum(report.patterns.values()) == report.dropped["pattern"]
    assert set(report.dropped) <= {"error_field", "http_status", "exception", "pattern", "unanswered"}
    for s in samples:  # a kept non-final turn is never answered by an output our rule flags
        if not s.is_final:
            traj = next(t for t in trajs if s.id.startswith(t.id + "#"))
            i = len(s.history)
            nxt = traj.messages[i + 1]
            assert nxt.role != "assistant"
            assert nxt.role != "tool" or tool_error(nxt.content) is None
