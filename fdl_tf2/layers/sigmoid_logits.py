"""The book's sigmoid output used as logits, safe from Keras' logits shortcut.

Book: chapter 7's `layer()` output scopes (the POS tagger, seed lines 3596-3655, and the IMDB
sentiment LSTM, lines 4124-4128): Dense -> batch norm -> sigmoid, whose (0, 1) outputs are fed
to `softmax_cross_entropy_with_logits` as if they were logits (spec ch06-07, errata §6 item 17).

Keras' own sigmoid (`keras.layers.Activation("sigmoid")`, `keras.ops.sigmoid`) tags its output
tensor with the pre-sigmoid tensor (`_keras_logits`), and Keras' cross-entropy losses given such
an output with `from_logits=True` silently use the pre-sigmoid tensor instead (only a warning is
logged). That would quietly undo the book's softmax over sigmoid outputs, and with it the loss
floor that explains the book's costs. `SigmoidLogits` computes the same sigmoid as
(tanh(x / 2) + 1) / 2, which carries no such tag.

Softmax over K values in (0, 1) cannot be confident: the cross-entropy is at least
`sigmoid_logits_loss_floor(K)` = -ln(e / (e + K - 1)): 0.3133 for the 2 IMDB classes, 2.8225 for
the 44 POS tags.
"""

import math

import keras


def sigmoid_logits_loss_floor(num_classes: int) -> float:
    """The least softmax cross-entropy over K "logits" in (0, 1): -ln(e / (e + K - 1)).

    Reached in the limit of a sigmoid output of 1 for the true class and 0 for the K - 1
    others.

    Raises:
      ValueError: `num_classes` < 2.
    """
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}.")
    return math.log(math.e + num_classes - 1) - 1.0


@keras.saving.register_keras_serializable(package="fdl_tf2")
class SigmoidLogits(keras.layers.Layer):
    """`sigmoid(x)`, `(batch, classes) -> (batch, classes)`: the book's output, used AS logits.

        y = (tanh(x / 2) + 1) / 2 = 1 / (1 + exp(-x))

    Written with tanh so that Keras' losses cannot replace `y` by `x` (see the module
    docstring). Registered as `fdl_tf2>SigmoidLogits`, the name `.keras` files saved with the
    POS tagger's copy of this layer refer to.
    """

    def call(self, inputs):
        return 0.5 * (keras.ops.tanh(0.5 * inputs) + 1.0)

    def compute_output_shape(self, input_shape):
        return input_shape
