"""Planted bugs in the IRM reward: the table, TL-Training's categories, BFCL's type and value rules, in the
Python twin and in the C++ core (native=True: rebuilt before its tests)."""

from . import Mutation

CATEGORIZE = ["tests/reward/test_reward_categorize.py"]
BFCL = ["tests/reward/test_reward_bfcl.py"]
FUZZ = ["tests/reward/test_reward_bfcl_fuzz.py"]

MUTATIONS = [
    Mutation(
        id="reward-table-value-error",
        file="tl_fast/reward/table.py",
        old="value_error: float = -0.25",
        new="value_error: float = -0.5",
        tests=CATEGORIZE,
        why="a wrong value costs -0.5 instead of the authors' -0.25",
    ),
    Mutation(
        id="reward-table-order-swapped",
        file="tl_fast/reward/table.py",
        old="""            self.param_redundant_missing,
            self.param_hallucination,""",
        new="""            self.param_hallucination,
            self.param_redundant_missing,""",
        tests=CATEGORIZE,
        why="R+M and H get each other's reward (the table's order is the C++ category order)",
    ),
    Mutation(
        id="tl-twin-redundant-counted-as-hallucinated",
        file="tl_fast/reward/_py_categorize.py",
        old="""        elif n not in gold.params:
            redundant = True""",
        new="""        elif n not in gold.params:
            hallucinated = True""",
        tests=CATEGORIZE,
        why="a schema parameter the gold call does not use counts as hallucinated, not redundant",
    ),
    Mutation(
        id="tl-twin-bool-equals-int",
        file="tl_fast/reward/_py_categorize.py",
        old="and not isinstance(a, bool) and isinstance(b, num) and not isinstance(b, bool):",
        new="and isinstance(b, num):",
        tests=CATEGORIZE,
        why="True == 1 in the twin's value comparison",
    ),
    Mutation(
        id="tl-native-optional-is-required",
        file="csrc/categorize.cpp",
        old="        if (g.optional) continue;\n",
        new="",
        tests=CATEGORIZE,
        why='a BFCL-style optional gold parameter ("" accepted) left out counts as missing',
        native=True,
    ),
    Mutation(
        id="tl-native-redundant-counted-as-hallucinated",
        file="csrc/categorize.cpp",
        old="else if (!gold.find(*name)) redundant = true;",
        new="else if (!gold.find(*name)) hallucinated = true;",
        tests=CATEGORIZE,
        why="the C++ categorizer calls a redundant parameter hallucinated",
        native=True,
        ctest=True,  # csrc/tests/test_categorize.cpp has these categories too
    ),
    Mutation(
        id="bfcl-twin-int-not-accepted-for-float",
        file="tl_fast/reward/_py_bfcl.py",
        old='if type_name == "float" and type(value) == int:  # noqa: E721',
        new="if False:",
        tests=BFCL,
        why="BFCL accepts an int for a float parameter; the twin would report a type error",
    ),
    Mutation(
        id="bfcl-twin-string-not-standardized",
        file="tl_fast/reward/_py_bfcl.py",
        old="if standardize_string(value) not in [standardize_string(p) for p in possible_answer",
        new="if value not in [p for p in possible_answer",
        tests=BFCL,
        why="string values are compared exactly, without BFCL's standardize_string",
    ),
    Mutation(
        id="bfcl-twin-variable-type-ignored",
        file="tl_fast/reward/_py_bfcl.py",
        old="is_variable = possible_answer_type is not None and possible_answer_type != expected_type",
        new="is_variable = False",
        tests=FUZZ,
        why="gold options of another type than the schema's (BFCL's 'variable' case) are checked as values",
    ),
    Mutation(
        id="bfcl-twin-missing-optional-not-reported",
        file="tl_fast/reward/_py_bfcl.py",
        old="        if g.name not in model_params and not g.optional:",
        new="        if False:",
        tests=FUZZ,
        why='a left-out gold parameter without a "" option is not reported as missing',
    ),
    Mutation(
        id="bfcl-native-int-not-accepted-for-float",
        file="csrc/bfcl.cpp",
        old="} else if (*expected == K::Float && given->kind == K::Int) {",
        new="} else if (false) {",
        tests=BFCL,
        why="the C++ checker rejects an int for a float parameter",
        native=True,
    ),
    Mutation(
        id="bfcl-native-nested-type-unchecked",
        file="csrc/bfcl.cpp",
        old="if (!type_checker(v, item.items, *nested, std::nullopt, possible_answer_type(item.items)).valid"
        ") {",
        new="if (false) {",
        tests=FUZZ,
        why="the C++ checker never checks the items of an array against the schema's item type",
        native=True,
    ),
    Mutation(
        id="bfcl-native-list-items-not-standardized",
        file="csrc/bfcl.cpp",
        old="    for (Value& item : model.items) item = standardized(item);\n",
        new="",
        tests=FUZZ,
        why="the C++ list check compares the model's strings without standardize_string",
        native=True,
    ),
    Mutation(
        id="bfcl-native-dict-optional-key-required",
        file="csrc/bfcl.cpp",
        old='if (!dict_find(model, answer.keys[k]) && !py_in(Value::str(""), elements(answer.items[k]))) {',
        new="if (!dict_find(model, answer.keys[k])) {",
        tests=FUZZ,
        why='the C++ dict check requires keys whose gold options include "" (may be omitted)',
        native=True,
    ),
    Mutation(
        id="bfcl-native-variable-type-ignored",
        file="csrc/bfcl.cpp",
        old="const bool is_variable = pat && *pat != expected;",
        new="const bool is_variable = false;",
        tests=FUZZ,
        why="the C++ checker loses BFCL's 'variable' case (gold options of another type)",
        native=True,
    ),
]
