# fdl_tf2: every experiment of "Fundamentals of Deep Learning" in TensorFlow 2 / Keras 3.
# CONFIG is one of smoke | cpu | book (default cpu: bounded runs on a 2-core CPU; book: the
# book's full settings); ARGS adds overrides, e.g. make ch03 CONFIG=book ARGS="--seed=1".

PYTHON_SYSTEM ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CONFIG ?= cpu
ARGS   ?=
export KERAS_BACKEND ?= tensorflow
export TF_CPP_MIN_LOG_LEVEL ?= 2

# The install stamp depends on the package metadata only: a second `make install` does nothing.
STAMP := $(VENV)/.installed

.PHONY: help install test test-slow smoke lint format demo bench export data tensorboard clean \
        ch01 ch02 ch03 ch04 ch05 ch05-long ch06 ch06-long ch07 ch07-long ch08 ch08-long bench-convnets

help:            ## List the targets.
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install: $(STAMP) ## Create .venv and install fdl_tf2 with all extras (idempotent).

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON_SYSTEM) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "Python >= 3.10 is required (set PYTHON_SYSTEM=...)"; exit 1; }
	test -x $(PY) || $(PYTHON_SYSTEM) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[text,rl,dev]"
	touch $(STAMP)

# Test processes: one per CPU core, at most 4 (each holds its own TensorFlow runtime).
TEST_WORKERS ?= $(shell $(PYTHON_SYSTEM) -c 'import os; print(min(4, len(os.sched_getaffinity(0))))' 2>/dev/null || echo 2)

test: install    ## Unit + smoke tests (what CI runs), in TEST_WORKERS parallel processes.
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal

test-slow: install ## Convergence checks on real data (minutes).
	$(PY) -m pytest -m slow

smoke: install   ## Every experiment end to end with its "smoke" preset.
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal tests/smoke

lint: install    ## ruff check + format check.
	$(PY) -m ruff check fdl_tf2 experiments tests benchmarks
	$(PY) -m ruff format --check fdl_tf2 experiments tests benchmarks

format: install  ## ruff format.
	$(PY) -m ruff format fdl_tf2 experiments tests benchmarks

demo: install    ## Train the ch03 MLP on MNIST for 5 epochs, export and verify it.
	$(PY) -m fdl_tf2 run ch03.mlp --config=demo $(ARGS)

# The `bench` extra (PyTorch, CPU build) is installed on first use, not by `make install`.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) ## Engine vs Keras fit vs PyTorch: ch03 MLP, ch05 convnets, ch06 autoencoder, ch07 sentiment LSTM and NMT; skip-gram vs gensim.
	$(PY) benchmarks/bench_mlp.py $(ARGS)
	$(PY) benchmarks/bench_convnets.py $(ARGS)
	$(PY) benchmarks/bench_autoencoder.py $(ARGS)
	$(PY) benchmarks/bench_skipgram.py $(ARGS)
	$(PY) benchmarks/bench_sentiment.py $(ARGS)
	$(PY) benchmarks/bench_translation.py $(ARGS)

bench-convnets: $(BENCH_STAMP) ## Only the ch05 convnets (e.g. ARGS="--models cifar --steps 50").
	$(PY) benchmarks/bench_convnets.py $(ARGS)

export: install  ## Regenerate saved_models/ (trains the exported models with CONFIG).
	$(PY) -m fdl_tf2 run ch03.logistic_regression --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch03.mlp --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch05.mnist_convnet --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch05.cifar_convnet --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch05.cifar_convnet --config=$(CONFIG)_bn $(ARGS)

data: install    ## Resolved data directory; present / missing datasets.
	$(PY) -m fdl_tf2 data $(ARGS)

tensorboard: install ## TensorBoard over runs/ on localhost:6006 (EXP=ch03.mlp for one experiment).
	$(VENV)/bin/tensorboard --logdir runs/$(EXP) --host localhost --port 6006

ch01:            install ## Chapter 1: perceptron, neurons, activations, softmax; Figs. 1.1-1.13.
	$(PY) -m fdl_tf2 run ch01.neurons --config=$(CONFIG) $(ARGS)

ch02:            install ## Chapter 2: gradient descent, backprop, regularisation; Figs. 2.2-2.15.
	$(PY) -m fdl_tf2 run ch02.gradient_descent --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch02.backprop --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch02.classifier_sweeps --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch02.grid_search --config=$(CONFIG) $(ARGS)

ch03:            install ## Chapter 3: TF basics, logistic regression, the MLP, init ablation.
	$(PY) -m fdl_tf2 run ch03.tf_basics --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch03.logistic_regression --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch03.mlp --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch03.init_ablation --config=$(CONFIG) $(ARGS)

ch04:            install ## Chapter 4: error surfaces, optimisers from scratch, the optimiser race.
	$(PY) -m fdl_tf2 run ch04.landscape --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch04.optimizer_race --config=$(CONFIG) $(ARGS)

# Chapter 5's cpu presets take hours in all, so `make ch05` defaults to the quick presets;
# a CONFIG given on the command line (make ch05 CONFIG=cpu) applies to every run.
ch05: CONFIG = quick
ch05:            install ## Chapter 5 in minutes: shapes, filters, t-SNE, BN curves, style (quick runs).
	$(PY) -m fdl_tf2 run ch05.conv_basics --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch05.mnist_convnet --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch05.bn_comparison --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch05.neural_style --config=$(CONFIG) $(ARGS)
	@echo "Chapter 5 long runs (2-core CPU; see experiments/README.md for measured times):"
	@echo "  make ch05-long    MNIST convnet (cpu, ~30 min) and both CIFAR-10 convnets + Fig. 5.17"
	@echo "                    (cpu, about an hour each)"
	@echo "  python -m fdl_tf2 run ch05.neural_style --content=IMG --styles=IMG --output=OUT.jpg"
	@echo "                    (needs the VGG-19 ImageNet weights: see its error message)"

ch05-long:       install ## Chapter 5 full CPU runs: MNIST convnet, CIFAR-10 +/- BN, Fig. 5.17.
	$(PY) -m fdl_tf2 run ch05.mnist_convnet --config=cpu $(ARGS)
	$(PY) -m fdl_tf2 run ch05.bn_comparison --config=cpu $(ARGS)

# Chapter 6's autoencoders train for about an hour each on 2 cores, so `make ch06` runs their
# quick presets (every figure, real data); `make ch06-long` runs the acceptance runs.
ch06:            install ## Chapter 6 in minutes: PCA demos, autoencoders (quick), sparse AEs, skip-gram.
	$(PY) -m fdl_tf2 run ch06.pca_demos --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch06.autoencoder_mnist --config=quick $(ARGS)
	$(PY) -m fdl_tf2 run ch06.denoising_autoencoder --config=quick $(ARGS)
	$(PY) -m fdl_tf2 run ch06.sparse_autoencoder --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch06.skipgram --config=quick $(ARGS)
	@echo "Chapter 6 long runs (2-core CPU; see experiments/README.md for measured times):"
	@echo "  make ch06-long    the 2-D and 30-D autoencoders and the denoising one (cpu presets)"
	@echo "  python -m fdl_tf2 run ch06.skipgram --config=cpu    the 5-epoch race against gensim"
	@echo "  python -m fdl_tf2 run ch06.skipgram --config=book   the book's batch-32 SGD skip-gram"

ch06-long:       install ## Chapter 6 acceptance runs: autoencoders with 2 and 30-D codes, denoising.
	$(PY) -m fdl_tf2 run ch06.autoencoder_mnist --config=cpu $(ARGS)
	$(PY) -m fdl_tf2 run ch06.autoencoder_mnist --config=cpu --n_code=30 $(ARGS)
	$(PY) -m fdl_tf2 run ch06.denoising_autoencoder --config=cpu $(ARGS)

ch07:            install ## Chapter 7 in minutes: parsing, beam search, RNN basics, POS tagger, IMDB LSTM and NMT (quick).
	$(PY) -m fdl_tf2 run ch07.parsing_beam_search --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch07.rnn_basics --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch07.pos_tagger --config=$(CONFIG) $(ARGS)
	$(PY) -m fdl_tf2 run ch07.lstm_sentiment --config=quick $(ARGS)
	$(PY) -m fdl_tf2 run ch07.translation --config=quick $(ARGS)
	@echo "Chapter 7 long runs (2-core CPU; see experiments/README.md for measured times):"
	@echo "  make ch07-long    the POS tagger (cpu_features), IMDB LSTM and en->fr translator (cpu)"
	@echo "  python -m fdl_tf2 run ch07.translation --config=cpu --source_language=de --target_language=en"
	@echo "  python -m fdl_tf2 run ch07.lstm_sentiment --config=cpu_w2v   the IMDB acceptance run"
	@echo "  python -m fdl_tf2 run ch07.pos_tagger --config=window5   the 5-word-window tagger"
	@echo "  python -m fdl_tf2 run ch07.pos_tagger --config=book --epochs=2 --export=False"

ch07-long:       install ## Chapter 7 acceptance runs: POS tagger with features, IMDB LSTM, en->fr translator.
	$(PY) -m fdl_tf2 run ch07.pos_tagger --config=cpu_features $(ARGS)
	$(PY) -m fdl_tf2 run ch07.lstm_sentiment --config=cpu_w2v $(ARGS)
	$(PY) -m fdl_tf2 run ch07.translation --config=cpu $(ARGS)

# Chapter 8: the copy-series DNC (Fig. 8.9) and a quick bAbI run.
ch08:            install ## Chapter 8 quickly: the copy DNC (Fig. 8.9) and a quick bAbI DNC.
	$(PY) -m fdl_tf2 run ch08.dnc_copy --config=quick $(ARGS)
	$(PY) -m fdl_tf2 run ch08.dnc_babi --config=quick $(ARGS)
	@echo "Long runs:"
	@echo "  make ch08-long    the copy acceptance run (cpu preset) and the bAbI cpu preset"
	@echo "  python -m fdl_tf2 run ch08.dnc_babi --config=book   the book's 100,000 batch-1 steps (days on 2 cores)"
	@echo "  python -m fdl_tf2 run ch08.dnc_copy --config=book   DNC-tensorflow's 120,000 batch-1 steps"

ch08-long:       install ## Chapter 8 acceptance runs: the copy DNC (cpu) and the bAbI DNC (cpu).
	$(PY) -m fdl_tf2 run ch08.dnc_copy --config=cpu $(ARGS)
	$(PY) -m fdl_tf2 run ch08.dnc_babi --config=cpu $(ARGS)

clean:           ## Remove runs/, caches and build files (keeps .venv and saved_models/).
	rm -rf runs .pytest_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
