import argparse
import json
import shlex

import pytest

from accelsim.cli import build_parser, main


def test_synth_then_inspect_json(tmp_path, capsys):
    out = tmp_path / "t"
    assert main(["synth", "--preset", "alexnet-wp", "--out", str(out), "--seed", "3"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(out), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [l["name"] for l in report["layers"]][:2] == ["conv1", "conv2"]
    assert set(report["layers"][0]) >= {"name", "kind", "weight_density", "activation_density",
                                        "macs_dense", "macs_effective"}
    assert report["total"]["macs_dense"] == sum(l["macs_dense"] for l in report["layers"])
    assert report["metadata"]["seed"] == 3
    assert abs(report["layers"][5]["weight_density"] - 0.09) < 0.005
    # Exists already: refused without --force, with a one-line error.
    assert main(["synth", "--preset", "alexnet-wp", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


def _subcommands():
    parser = build_parser()
    return next(action for action in parser._actions
                if isinstance(action, argparse._SubParsersAction)).choices


def test_every_command_is_listed_and_its_help_has_an_example_and_every_option_explained(capsys):
    commands = _subcommands()
    assert set(commands) == {"synth", "export", "inspect", "simulate", "train", "trace", "demo",
                             "compare", "plot", "sweep", "pareto", "validate", "config"}
    for name, parser in commands.items():
        with pytest.raises(SystemExit) as exit_status:
            main([name, "--help"])
        assert exit_status.value.code == 0
        text = capsys.readouterr().out
        example = text[text.index("example:"):]
        assert f"accelsim {name} " in example, name
        for action in parser._actions:
            assert action.help and action.help.strip(), (name, action.dest)


def test_every_example_line_parses(capsys):
    """The examples in each command's help are real command lines for that parser."""
    for name, parser in _subcommands().items():
        example = parser.epilog.split("example:", 1)[1]
        lines = example.replace("\\\n", " ").splitlines()
        for line in filter(str.strip, lines):
            argv = shlex.split(line.split("#")[0].split(">")[0])  # no comment or redirection
            assert argv[:2] == ["accelsim", name], line
            args = build_parser().parse_args(argv[1:])
            assert args.run.__name__ == f"cmd_{name}", line


def test_options_shared_by_commands_say_the_same(capsys):
    helps = {}
    for name, parser in _subcommands().items():
        for action in parser._actions:
            for flag in action.option_strings:
                helps.setdefault(flag, {}).setdefault(action.help, []).append(name)
    # --out, --samples and the like differ on purpose; these say one thing (up to a default).
    for flag in ("--arch", "--trace", "--workers", "--scheduler", "--force", "--no-verify"):
        assert len({text.split(" (")[0] for text in helps[flag]}) == 1, (flag, helps[flag])


def test_errors_are_one_line_for_every_command(tmp_path, capsys):
    missing = str(tmp_path / "missing")
    argv = {"synth": ["--spec", missing + ".yaml", "--out", str(tmp_path / "s")],
            "export": [missing, "--format", "scalesim", "--out", str(tmp_path / "e.csv")],
            "inspect": [missing],
            "simulate": ["--arch", "eie", "--trace", missing, "--out", str(tmp_path / "r.csv")],
            "train": ["--model", "mlp3", "--method", "jp", "--from", missing + ".pt",
                      "--out", str(tmp_path / "m.pt")],
            "trace": ["--checkpoint", missing + ".pt", "--out", str(tmp_path / "t")],
            "demo": ["--arch", missing + ".yaml", "--out", str(tmp_path / "d")],
            "compare": ["--arch", "eie", "--trace", missing, "--out", str(tmp_path / "c")],
            "plot": [missing + ".csv", "--out", str(tmp_path / "p")],
            "sweep": [missing + ".yaml"],
            "pareto": ["--model", "mlp3", "--arch", missing + ".yaml", "--out", str(tmp_path)],
            "validate": ["--out", str(tmp_path / "validation.csv" / "under-a-file")],
            "config": [missing + ".yaml"]}
    assert set(argv) == set(_subcommands())
    (tmp_path / "validation.csv").write_text("a file, not a directory")
    for name, args in argv.items():
        assert main([name, *args]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith(f"accelsim {name}: error: ") and err.count("\n") == 1, (name, err)
