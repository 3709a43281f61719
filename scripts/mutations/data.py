"""Planted bugs in the data stage: PKT key tokens and weights, MAE's drop rules."""

from . import Mutation

PKT = ["tests/data/test_data_pkt.py"]
MAE = ["tests/data/test_data_mae.py"]

MUTATIONS = [
    Mutation(
        id="pkt-clip-upper",
        file="tl_fast/data/pkt.py",
        old="w_key = min(max((n_trained - len(keys)) / len(keys), 1.0), pkt.w_max) if keys else 1.0",
        new="w_key = max((n_trained - len(keys)) / len(keys), 1.0) if keys else 1.0",
        tests=PKT,
        why="the key-token weight is not capped at w_max",
    ),
    Mutation(
        id="pkt-clip-lower",
        file="tl_fast/data/pkt.py",
        old="w_key = min(max((n_trained - len(keys)) / len(keys), 1.0), pkt.w_max) if keys else 1.0",
        new="w_key = min((n_trained - len(keys)) / len(keys), pkt.w_max) if keys else 1.0",
        tests=PKT,
        why="key tokens may weigh less than 1 (no lower clip bound)",
    ),
    Mutation(
        id="pkt-ratio-counts-all-tokens",
        file="tl_fast/data/pkt.py",
        old="w_key = min(max((n_trained - len(keys)) / len(keys), 1.0), pkt.w_max) if keys else 1.0",
        new="w_key = min(max(n_trained / len(keys), 1.0), pkt.w_max) if keys else 1.0",
        tests=PKT,
        why="|non-key| counts the key tokens too",
    ),
    Mutation(
        id="pkt-divergence-token-misplaced",
        file="tl_fast/data/pkt.py",
        old="j = _covering(offsets, line + chosen_offs[d][0])",
        new="j = _covering(offsets, line + chosen_offs[d - 1][0])",
        tests=PKT,
        why="the key token where two names part is the last shared token instead of the first differing one",
    ),
    Mutation(
        id="pkt-names-compared-without-tail",
        file="tl_fast/data/pkt.py",
        old="_TAIL_CHARS = 3",
        new="_TAIL_CHARS = 0",
        tests=PKT,
        why="names are compared without the text after them: get vs get_all gets no key at the '('",
    ),
    Mutation(
        id="pkt-first-other-tool-skipped",
        file="tl_fast/data/pkt.py",
        old="for alt_ids, _ in seqs[1:]:",
        new="for alt_ids, _ in seqs[2:]:",
        tests=PKT,
        why="the first other offered tool is never compared with the chosen name",
    ),
    Mutation(
        id="mae-error-history-kept-after-cut",
        file="tl_fast/data/mae.py",
        old="cut = not cfg.keep_error_history",
        new="cut = False",
        tests=MAE,
        why="keep_error_history=False no longer cuts the trajectory at its first failed call",
    ),
    Mutation(
        id="mae-final-turn-kept-after-cut",
        file="tl_fast/data/mae.py",
        old='out.append((i, "after_error_cut" if cut else None, ""))',
        new='out.append((i, None, ""))',
        tests=MAE,
        why="the final turn survives a cut (the docstring once claimed it always did)",
    ),
    Mutation(
        id="mae-patterns-not-anchored",
        file="tl_fast/data/mae.py",
        old="        if regex.match(text):\n",
        new="        if regex.search(text):\n",
        tests=MAE,
        why="the paper's error patterns match anywhere in an output, not only at its start",
    ),
    Mutation(
        id="mae-unanswered-kept",
        file="tl_fast/data/mae.py",
        old='out.append((i, "unanswered" if cfg.drop_unanswered else None, ""))',
        new='out.append((i, None, ""))',
        tests=MAE,
        why="a call that got no answer is trained on although drop_unanswered is on",
    ),
    Mutation(
        id="mae-falsy-error-text-is-error",
        file="tl_fast/data/mae.py",
        old="return value.strip().lower() not in _FALSY_TEXT",
        new="return value.strip() != ''",
        tests=MAE,
        why='an error field holding "none", "null", "0" or "ok" counts as an error',
    ),
    Mutation(
        id="mae-http-success-is-error",
        file="tl_fast/data/mae.py",
        old="return isinstance(value, int) and 400 <= value <= 599",
        new="return isinstance(value, int) and 200 <= value <= 599",
        tests=MAE,
        why="a successful HTTP status (200) in a tool output drops the turn",
    ),
]
