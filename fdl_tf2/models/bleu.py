"""Corpus BLEU of translations, with sacreBLEU (Post, 2018), under two stated protocols.

- `protocol="sacrebleu"`, the standard: detokenised hypotheses against the raw references,
  sacreBLEU's own "13a" tokenisation, case-sensitive. The signature says exactly that, e.g.
  `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`.
- `protocol="tokenized_lowercase"`, the peer comparison (bentrevett/pytorch-seq2seq's
  Multi30k numbers: BLEU-4 over lower-cased tokens, corpus level): hypotheses and references
  are lower-cased, tokenised with the book's `basic_tokenizer` and scored with sacreBLEU's
  `tokenize="none"`. The peer tokenises with spaCy; `basic_tokenizer` splits the same
  punctuation off words but keeps hyphens and clitics inside words, so the two can differ
  slightly on those tokens (stated beside every figure).
"""

from collections.abc import Sequence

import sacrebleu

from fdl_tf2.data import translation

PROTOCOLS = ("sacrebleu", "tokenized_lowercase")


def _tokenized_lowercase(sentences: Sequence[str]) -> list[str]:
    return [" ".join(translation.basic_tokenizer(s.lower())) for s in sentences]


def corpus_bleu(
    hypotheses: Sequence[str], references: Sequence[str], protocol: str = "sacrebleu"
) -> dict[str, float | str]:
    """`{"bleu", "signature", "protocol", "brevity_penalty", "precisions"}` of a corpus.

    Raises:
      ValueError: an unknown protocol, or hypothesis and reference counts that differ.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"Unknown protocol {protocol!r}; expected one of {PROTOCOLS}.")
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references.")
    if protocol == "sacrebleu":
        metric = sacrebleu.BLEU()
        hypotheses, references = list(hypotheses), list(references)
    else:
        metric = sacrebleu.BLEU(tokenize="none", force=True)  # Tokenised by design.
        hypotheses, references = _tokenized_lowercase(hypotheses), _tokenized_lowercase(references)
    score = metric.corpus_score(hypotheses, [references])
    signature = str(metric.get_signature())
    return {
        "bleu": float(score.score),
        "signature": signature,
        "protocol": protocol,
        "brevity_penalty": float(score.bp),
        "precisions": [float(p) for p in score.precisions],
    }
