"""The translator's serving pipeline (`fdl_tf2.export.translator`), in memory and reloaded.

Raw strings go in; tokenising, the vocabulary, the reversed layout, beam search and
detokenising run in the graph. Empty, over-long, non-ASCII and invalid UTF-8 input give defined
outputs; a wrong dtype or rank is refused; the reloaded export reproduces the in-memory one.
"""

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import toy_translation, translation
from fdl_tf2.export import saved_model
from fdl_tf2.export import translator as translator_export
from fdl_tf2.models import seq2seq, seq2seq_decoding

_SOURCES, _TARGETS = toy_translation.toy_pairs(200, seed=0)
_SOURCE_WORDS = translation.create_vocabulary(_SOURCES, 1000)
_TARGET_WORDS = translation.create_vocabulary(_TARGETS, 1000)
_MAX_SOURCE, _MAX_OUTPUT = 8, 9


def _model() -> seq2seq.Seq2SeqAttention:
    model = seq2seq.Seq2SeqAttention(
        len(_SOURCE_WORDS), len(_TARGET_WORDS), units=8, num_layers=1, seed=2
    )
    kernel, bias = model.projection_weights  # Peaked outputs: EOS comes at varied lengths.
    rng = np.random.default_rng(0)
    kernel.assign(rng.normal(0, 2.0, kernel.shape).astype("float32"))
    values = rng.normal(0, 1.0, bias.shape).astype("float32")
    values[translation.EOS_ID] += 1.5
    bias.assign(values)
    return model


@pytest.fixture(scope="module")
def model():
    return _model()


def _service(model, beam_size=3) -> translator_export.TranslatorService:
    return translator_export.TranslatorService(
        model, _SOURCE_WORDS, _TARGET_WORDS, beam_size=beam_size, length_penalty=0.6,
        max_source_tokens=_MAX_SOURCE, max_output_tokens=_MAX_OUTPUT, target_language="fr",
    )  # fmt: skip


SENTENCES = [
    "the big dog sees a cat.",
    "",
    "   \t ",
    "the dog the dog the dog the dog the dog",  # 10 tokens: cut to 8
    "Ünïcödé café 😀 zebra.",
]
SENTENCES = [s.encode() for s in SENTENCES] + [b"the \xff\xfe dog"]  # + invalid UTF-8


def test_encoder_inputs_are_the_training_layout(model):
    service = _service(model)
    inputs, lengths, truncated = service.encoder_inputs(tf.constant(SENTENCES[:4]))
    ids = translation.word_ids(_SOURCE_WORDS)
    words = translation.basic_tokenizer(SENTENCES[0].decode())
    expected = [ids.get(w, translation.UNK_ID) for w in words]
    width = inputs.shape[1]
    assert width == _MAX_SOURCE
    # Reversed, pads first: the book's layout (`translation.bucket_layout`).
    layout = translation.bucket_layout([(expected, [])], (width, 2))[0][0]
    np.testing.assert_array_equal(inputs.numpy()[0], layout)
    assert lengths.numpy().tolist() == [len(expected), 0, 0, _MAX_SOURCE]
    assert truncated.numpy().tolist() == [False, False, False, True]
    assert np.all(inputs.numpy()[1:3] == translation.PAD_ID)


def test_translate_is_the_beam_search_of_the_model(model):
    service = _service(model)
    outputs = service.translate(tf.constant(SENTENCES[:1]))
    inputs, _, _ = service.encoder_inputs(tf.constant(SENTENCES[:1]))
    decoded = seq2seq_decoding.beam_decode(
        model, inputs, _MAX_OUTPUT, beam_size=3, length_penalty_alpha=0.6
    )
    length = int(decoded.lengths[0, 0])
    ids = decoded.tokens.numpy()[0, 0, :length].tolist()
    if ids and ids[-1] == translation.EOS_ID:
        ids = ids[:-1]
    words = [_TARGET_WORDS[i] for i in ids]
    assert outputs["translations"].numpy()[0].decode() == translation.detokenize(words, "fr")
    assert int(outputs["lengths"][0]) == len(words)
    assert float(outputs["scores"][0]) == pytest.approx(float(decoded.normalized_scores[0, 0]))


def test_greedy_service_equals_the_greedy_decoder(model):
    service = _service(model, beam_size=1)
    inputs, _, _ = service.encoder_inputs(tf.constant(SENTENCES))
    greedy = seq2seq_decoding.greedy_decode(model, inputs, _MAX_OUTPUT)
    outputs = service.translate(tf.constant(SENTENCES))
    np.testing.assert_allclose(
        outputs["log_probabilities"].numpy(), greedy.scores.numpy(), rtol=1e-5
    )


def test_every_input_gets_a_defined_output(model):
    outputs = _service(model).translate(tf.constant(SENTENCES), attention=True)
    assert outputs["translations"].shape == (len(SENTENCES),)
    assert np.all(np.isfinite(outputs["scores"].numpy()))
    assert np.all(outputs["lengths"].numpy() <= _MAX_OUTPUT)
    attention = outputs["attention"].numpy()
    assert attention.shape[:2] == (len(SENTENCES), _MAX_OUTPUT)
    assert np.all(attention[1:3] == 0)  # No source token: no attention.
    np.testing.assert_allclose(attention[0, 0].sum(), 1.0, rtol=1e-5)
    real = len(translation.basic_tokenizer(SENTENCES[0].decode()))
    assert np.all(attention[0, :, real:] == 0)  # Columns in reading order, pads at the end.


def test_mismatched_vocabularies_are_refused(model):
    with pytest.raises(ValueError, match="target words"):
        translator_export.TranslatorService(model, _SOURCE_WORDS, _TARGET_WORDS[:-1])
    with pytest.raises(ValueError, match="source words"):
        translator_export.TranslatorService(model, _SOURCE_WORDS[:-1], _TARGET_WORDS)


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    service = _service(model)
    samples = np.array(SENTENCES + [b"word " * 2000], dtype=np.bytes_)
    path = saved_model.export(
        "translator_en_fr",
        endpoints=service.endpoints(),
        samples={key: (samples,) for key in service.endpoints()},
        track=[service],
        export_dir=tmp_path_factory.mktemp("models"),
        verify=True,  # A fresh process reproduces the outputs and refuses bad dtypes and ranks.
    )
    return service, tf.saved_model.load(str(path))


def test_reloaded_export_reproduces_the_service(exported):
    service, loaded = exported
    batch = SENTENCES + [b"word " * 2000]
    expected = service.translate(tf.constant(batch))
    for key in (translator_export.TRANSLATE_KEY, saved_model.SIGNATURE_KEY):
        outputs = loaded.signatures[key](sentences=tf.constant(batch))
        assert outputs["translations"].numpy().tolist() == expected["translations"].numpy().tolist()
        np.testing.assert_allclose(outputs["scores"].numpy(), expected["scores"].numpy(), rtol=1e-5)
        assert outputs["truncated"].numpy().tolist() == [False] * 3 + [True, False, False, True]
    with_attention = loaded.signatures[translator_export.ATTENTION_KEY](
        sentences=tf.constant(batch)
    )
    expected = service.translate(tf.constant(batch), attention=True)
    np.testing.assert_allclose(
        with_attention["attention"].numpy(), expected["attention"].numpy(), atol=1e-6
    )


def test_reloaded_export_refuses_wrong_dtypes_and_ranks(exported):
    _, loaded = exported
    translate = loaded.signatures[translator_export.TRANSLATE_KEY]
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        translate(sentences=tf.constant([1, 2]))
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        translate(sentences=tf.constant([["a", "b"]]))
    empty = translate(sentences=tf.constant([], tf.string))
    assert empty["translations"].shape == (0,)
