import json

from accelsim.cli import main


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


def test_every_subcommand_help_has_an_example(capsys):
    import pytest
    for command in ("synth", "inspect", "config", "simulate", "train", "trace", "demo", "compare",
                    "plot", "sweep", "export"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "example:" in capsys.readouterr().out
