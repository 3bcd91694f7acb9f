"""`python -m fdl_tf2`: list, show and run the book's experiments; show the data status.

    python -m fdl_tf2 list [chNN]
    python -m fdl_tf2 show ch03.mlp
    python -m fdl_tf2 run ch03.mlp --config=smoke|book|cpu --epochs=5 --data_dir=<dir>
    python -m fdl_tf2 data [--download] [--data_dir=<dir>]

Experiments live in `experiments/chNN_<topic>/<name>.py` and are found by walking the
`experiments` package (run from the repository root, or with it on PYTHONPATH).
"""

import dataclasses
import importlib
import os
import pkgutil
import sys
from types import ModuleType

USAGE = __doc__.split("\n\n")[1]


def _quiet_tensorflow() -> None:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def experiment_modules() -> dict[str, ModuleType]:
    """`{"ch03.mlp": module, ...}` for every experiment module, in chapter order."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        package = importlib.import_module("experiments")
    except ImportError as error:
        raise SystemExit(
            "Cannot import the `experiments` package: run from the repository root "
            f"or put it on PYTHONPATH ({error})."
        ) from error
    modules = {}
    for chapter in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not chapter.ispkg or not chapter.name.startswith("ch"):
            continue
        chapter_package = importlib.import_module(f"experiments.{chapter.name}")
        prefix = chapter.name.split("_")[0]
        for entry in sorted(pkgutil.iter_modules(chapter_package.__path__), key=lambda m: m.name):
            if entry.name.startswith("_"):
                continue
            module = importlib.import_module(f"experiments.{chapter.name}.{entry.name}")
            if hasattr(module, "Config") and hasattr(module, "main"):
                modules[f"{prefix}.{entry.name}"] = module
    return modules


def _header(module: ModuleType) -> dict[str, str]:
    fields = {}
    for line in (module.__doc__ or "").strip().splitlines():
        if ":" in line and line.split(":", 1)[0] in (
            "Title",
            "Book",
            "Description",
            "Expected result",
        ):
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    return fields


def _find(experiment_id: str) -> ModuleType:
    modules = experiment_modules()
    if experiment_id not in modules:
        raise SystemExit(
            f"Unknown experiment {experiment_id!r}. Known: {', '.join(modules) or 'none'}."
        )
    return modules[experiment_id]


def command_list(args: list[str]) -> int:
    chapter = args[0] if args else ""
    for experiment_id, module in experiment_modules().items():
        if chapter and not experiment_id.startswith(chapter):
            continue
        header = _header(module)
        defaults = ", ".join(
            f"{field.name}={field.default!r}"
            for field in dataclasses.fields(module.Config)
            if field.name in module.Config.__dict__.get("__annotations__", {})
        )
        print(f"{experiment_id}  {header.get('Title', '')}")
        print(f"    book:     {header.get('Book', '')}")
        print(f"    expected: {header.get('Expected result', '')}")
        print(f"    presets:  {', '.join(module.CONFIGS)}")
        print(f"    defaults: {defaults}")
    return 0


def command_show(args: list[str]) -> int:
    from fdl_tf2 import config as config_lib

    if not args:
        raise SystemExit("usage: python -m fdl_tf2 show <experiment>")
    module = _find(args[0])
    for preset in module.CONFIGS:
        config = config_lib.from_argv(module.Config, module.CONFIGS, [f"--config={preset}"])
        print(f"[{preset}]")
        for name, value in dataclasses.asdict(config).items():
            print(f"  {name} = {value!r}")
    return 0


def command_run(args: list[str]) -> int:
    from fdl_tf2 import config as config_lib
    from fdl_tf2.data import download
    from fdl_tf2.training import checkpoint, loop

    if not args:
        raise SystemExit("usage: python -m fdl_tf2 run <experiment> [--config=...] [--field=value]")
    module = _find(args[0])
    try:
        config = config_lib.from_argv(module.Config, module.CONFIGS, args[1:])
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        results = module.main(config)
    except KeyboardInterrupt:
        print(
            "Interrupted; a checkpoint was saved (see the resume command above).", file=sys.stderr
        )
        return 130
    except checkpoint.TrainingInterrupted as stopped:
        print(
            f"Stopped by a signal at step {stopped.step}; resume as printed above.", file=sys.stderr
        )
        return stopped.code
    except (
        loop.NonFiniteLossError,
        FileNotFoundError,  # A missing dataset, pretrained weights or run directory.
        download.ChecksumError,
        checkpoint.WorkdirLockedError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    summary = {k: v for k, v in results.items() if isinstance(v, (int, float, str))}
    for key in sorted(summary):
        print(f"  {key}: {summary[key]}")
    return 0


def command_data(args: list[str]) -> int:
    from fdl_tf2.data import cifar10, conll2000, download, imdb, mnist, multi30k, paths, text_corpus

    data_dir = None
    fetch = False
    for argument in args:
        if argument == "--download":
            fetch = True
        elif argument.startswith("--data_dir="):
            data_dir = argument.split("=", 1)[1]
        else:
            raise SystemExit(
                f"Unknown argument {argument!r}; usage: data [--download] [--data_dir=DIR]"
            )
    print(f"Data directory: {paths.data_dir(data_dir)}")
    for line in paths.searched_dirs(data_dir):
        print(f"  searched: {line}")
    datasets = {name: (name, files) for name, files in mnist.FILES.items()}
    datasets["cifar10"] = ("cifar10", cifar10.FILES)
    for corpus in ("gutenberg", "text8"):  # Chapter 6; gutenberg_no_bible is a subset.
        datasets[corpus] = text_corpus.corpus_files(corpus)
    datasets["conll2000"] = (conll2000.DATASET, conll2000.FILES)  # Chapter 7.
    datasets["imdb"] = (imdb.DATASET, imdb.FILES)
    datasets["multi30k"] = (multi30k.DATASET, multi30k.FILES)
    status = 0
    for name, (folder, files) in datasets.items():
        missing = download.status(folder, files, data_dir)
        if missing and fetch:
            try:
                if name == "cifar10":
                    cifar10.load_arrays("test", data_dir=data_dir)
                elif name == "imdb":  # The canonical archive, read into the same arrays.
                    imdb.load_reviews("test", data_dir=data_dir)
                else:
                    download.ensure_files(folder, files, data_dir)
                missing = download.status(folder, files, data_dir)
            except (download.DatasetNotFoundError, download.ChecksumError) as error:
                print(f"{name}: download failed: {error}", file=sys.stderr)
                status = 1
        state = "present" if not missing else f"missing {', '.join(missing)}"
        if len(missing) > 3:
            state = f"missing {len(missing)} of {len(files)} files ({', '.join(missing[:3])}, ...)"
        print(f"  {name:15s} {state}")
    return status


COMMANDS = {"list": command_list, "show": command_show, "run": command_run, "data": command_data}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(USAGE)
        return 0 if not argv or argv[0] in ("-h", "--help", "help") else 2
    _quiet_tensorflow()
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
