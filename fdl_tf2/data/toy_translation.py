"""A rule-based toy parallel corpus: English -> "pseudo-French" with the adjectives moved.

For the translator's tests and its smoke preset (spec ch06-07 §7: "a rule-based toy corpus
... attention maps then show the reversal of Fig. 7.33"). Each English sentence is

    <det> <adjective>* <noun> <verb> <det> <adjective>* <noun> .
    "the big red dog sees a small cat."

and its translation maps every word through a fixed dictionary, with each noun's adjectives
placed AFTER the noun, in reversed order, as French orders "the European Economic Area" ->
"la zone économique européenne":

    "le chien rouge grand voit un chat petit."

So a correct translation must reorder words, which a monotone word-by-word model cannot do,
and the attention of a trained model crosses the diagonal on the adjective spans. Sentences
are drawn with a seeded NumPy generator; the same seed gives the same corpus.
"""

import numpy as np

DETERMINERS = {"the": "le", "a": "un", "this": "ce", "every": "chaque"}
ADJECTIVES = {
    "big": "grand", "small": "petit", "red": "rouge", "blue": "bleu", "old": "vieux",
    "young": "jeune", "happy": "heureux", "green": "vert", "black": "noir", "white": "blanc",
}  # fmt: skip
NOUNS = {
    "dog": "chien", "cat": "chat", "man": "homme", "boy": "garçon", "horse": "cheval",
    "bird": "oiseau", "car": "camion", "ball": "ballon", "tree": "arbre", "house": "bâtiment",
}  # fmt: skip
VERBS = {
    "sees": "voit", "likes": "aime", "follows": "suit", "finds": "trouve", "watches": "regarde",
    "pushes": "pousse",
}  # fmt: skip


def _noun_phrase(rng: np.random.Generator, max_adjectives: int) -> tuple[list[str], list[str]]:
    determiner = rng.choice(list(DETERMINERS))
    adjectives = list(
        rng.choice(list(ADJECTIVES), size=rng.integers(0, max_adjectives + 1), replace=False)
    )
    noun = rng.choice(list(NOUNS))
    english = [determiner, *adjectives, noun]
    french = [DETERMINERS[determiner], NOUNS[noun], *(ADJECTIVES[a] for a in reversed(adjectives))]
    return english, french


def toy_pairs(
    num_pairs: int, *, seed: int = 0, max_adjectives: int = 3
) -> tuple[list[str], list[str]]:
    """`(english, pseudo_french)`: `num_pairs` aligned sentences, tokens separated by spaces.

    Sentences have 6 to 6 + 2 * max_adjectives tokens (the final "." included, written without a
    space before it, as detokenised text), so they fit
    the repository's buckets (every pair goes into (10, 15) or (20, 25) for max_adjectives=3).
    """
    if num_pairs < 0 or max_adjectives < 0:
        raise ValueError(
            f"num_pairs and max_adjectives must be >= 0; got {num_pairs}, {max_adjectives}."
        )
    rng = np.random.default_rng(seed)
    english, french = [], []
    for _ in range(num_pairs):
        subject_en, subject_fr = _noun_phrase(rng, max_adjectives)
        object_en, object_fr = _noun_phrase(rng, max_adjectives)
        verb = rng.choice(list(VERBS))
        english.append(" ".join([*subject_en, verb, *object_en]) + ".")
        french.append(" ".join([*subject_fr, VERBS[verb], *object_fr]) + ".")
    return english, french


def translate_reference(sentence: str) -> str:
    """The corpus's rule applied to an English toy sentence (for tests and figures).

    Raises:
      KeyError: a word outside the toy dictionary.
    """
    words, output, adjectives = sentence.removesuffix(".").split() + ["."], [], []
    for word in words:
        if word in ADJECTIVES:
            adjectives.append(ADJECTIVES[word])
        elif word in NOUNS:
            output += [NOUNS[word], *reversed(adjectives)]
            adjectives = []
        else:
            output.append({**DETERMINERS, **VERBS, ".": "."}[word])
    return " ".join(output[:-1]) + "."
