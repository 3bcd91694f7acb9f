"""The babi_dnc serving pipeline: in-graph tokenising as the book's, answers at the right steps."""

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import babi
from fdl_tf2.export import babi_dnc
from fdl_tf2.memory import dnc

LINES = [
    "1 Mary moved to the bathroom.",
    "3 Where is Mary? \tbathroom\t1",
    "6 What is Mary carrying?\tmilk,apple\t1 4",
    "John, Sandra and  Daniel\twent to the GARDEN...",
    "",
    "   ",
    "Ünïcödé café — 😀 went 42 to x2 the kitchen.",
]


def test_in_graph_tokenizer_equals_the_book_preprocessing():
    tokens = babi_dnc.tokenize_in_graph(tf.constant(LINES)).to_list()
    assert [[t.decode() for t in row] for row in tokens] == [
        babi.tokenize_line(line) for line in LINES
    ]


@pytest.fixture(scope="module")
def service():
    lexicon = babi.synthetic_lexicon()
    model = dnc.build_babi_dnc(
        len(lexicon), memory_size=6, word_size=4, num_reads=1, controller_units=8
    )
    for weight in model.weights:  # larger than the 0.01 init, so that answers differ
        weight.assign(np.random.default_rng(0).normal(scale=0.5, size=weight.shape))
    return babi_dnc.BabiService(model, lexicon, max_tokens=24), model, lexicon


def _expected(model, lexicon, story: str, question: str, num_words: int) -> list[str]:
    tokens = babi.tokenize_line(story) + babi.tokenize_line(question)
    if not tokens or tokens[-1] != "?":
        tokens.append("?")
    ids = [lexicon[t] for t in tokens if t in lexicon] + [lexicon["-"]] * num_words
    ids = ids[-24:]
    logits = model(tf.constant([ids], tf.int32)).numpy()[0]
    words = sorted(lexicon, key=lexicon.get)
    return [words[i] for i in logits[len(ids) - num_words :].argmax(-1)]


def test_answers_are_the_argmax_at_the_answer_steps(service):
    service, model, lexicon = service
    stories = ["Mary went to the office. John moved to the garden.", "", "Mary went to the zoo."]
    questions = ["Where is Mary?", "Where is John", "What is Mary carrying?"]
    counts = [1, 2, 3]
    outputs = service.answer(tf.constant(stories), tf.constant(questions), tf.constant(counts))
    for row in range(3):
        expected = _expected(model, lexicon, stories[row], questions[row], counts[row])
        assert outputs["answer"][row].numpy().decode() == ",".join(expected)
        words = [w.decode() for w in outputs["words"][row].numpy()]
        assert words[: counts[row]] == expected and set(words[counts[row] :]) == {""}
    assert outputs["unknown_words"].numpy().tolist() == [0, 0, 1]  # "zoo"
    assert outputs["truncated"].numpy().tolist() == [False, False, False]
    assert np.all(outputs["log_probabilities"].numpy() < 0)


def test_long_stories_keep_their_last_tokens_and_edge_cases_are_defined(service):
    service, model, lexicon = service
    long_story = "Mary went to the office. " * 10 + "John moved to the garden."
    outputs = service.answer(
        tf.constant([long_story.encode(), b"", b"\xff\xfe"]),
        tf.constant(["Where is John?", "", "Where is Mary?"]),
        tf.constant([1, 1, 1]),
    )
    assert outputs["truncated"].numpy().tolist() == [True, False, False]
    expected = _expected(model, lexicon, long_story, "Where is John?", 1)
    assert outputs["answer"][0].numpy().decode() == expected[0]
    assert outputs["answer"][1].numpy().decode() in lexicon  # the empty question reads "?"
    assert outputs["unknown_words"].numpy()[2] == 0  # invalid UTF-8 is no letter


def test_service_refuses_an_unusable_lexicon_or_size(service):
    _, model, lexicon = service
    with pytest.raises(ValueError, match="'-'"):
        babi_dnc.BabiService(model, {k: v for k, v in lexicon.items() if k != "-"})
    with pytest.raises(ValueError, match="max_tokens"):
        babi_dnc.BabiService(model, lexicon, max_tokens=4)
