import pytest
import yaml
from conftest import ROOT

from accelsim import ConfigError, load_arch
from accelsim.cli import main

CONFIGS = ROOT / "arch_configs"


def test_shipped_configs_have_the_paper_parameters():
    eie = load_arch(CONFIGS / "eie.yaml")
    assert (eie.machine, eie.clock_mhz, eie.params.pes, eie.params.fifo_depth, eie.params.index_bits) == (
        "eie", 800, 64, 8, 4)
    sparse, pointers = eie.memory.buffers["sparse_matrix"], eie.memory.buffers["pointers"]
    assert (sparse.capacity_bytes, sparse.bank_width_bits) == (128 * 1024, 64)
    assert (pointers.capacity_bytes, pointers.banks, pointers.bank_width_bits) == (32 * 1024, 2, 16)
    assert eie.memory.buffers["activations"].technology == "regfile"
    assert (eie.arithmetic.weight_bits, eie.arithmetic.accumulator_bits) == (16, 16)
    assert eie.static_power.per == "pe" and "Table II" in eie.static_power.source
    for name in ("dense", "cnvlutin"):
        config = load_arch(CONFIGS / f"{name}.yaml")
        assert (config.clock_mhz, config.params.tiles, config.params.neuron_lanes,
                config.params.filter_lanes) == (606, 16, 16, 16)
        weights = config.memory.buffers["weights"]
        assert (weights.technology, weights.capacity_bytes, weights.per) == ("edram", 2 << 20, "tile")
    assert all(entry.source for entry in eie.energy.ops)


def test_buffer_figures_come_from_the_cacti_table_and_say_so():
    eie = load_arch(CONFIGS / "eie.yaml")
    sparse = eie.memory.buffers["sparse_matrix"]
    # The table row for a 128 KiB x 64-bit itrs-lop SRAM bank.
    assert (sparse.read_pj, sparse.write_pj, sparse.leakage_mw) == (15.545, 10.5387, 0.59314)
    assert sparse.figures_from == "cacti45nm.csv (table row)"
    own = load_arch(CONFIGS / "eie.yaml", {"memory.buffers.sparse_matrix.read_pj": 20.0})
    assert own.memory.buffers["sparse_matrix"].read_pj == 20.0
    assert own.memory.buffers["sparse_matrix"].write_pj == 10.5387


def _write(tmp_path, edit):
    raw = yaml.safe_load((CONFIGS / "eie.yaml").read_text())
    raw["energy"] = yaml.safe_load((CONFIGS / "energy" / "45nm.yaml").read_text())
    raw["energy"]["memory_table"] = str(CONFIGS / "energy" / "cacti45nm.csv")
    edit(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


BAD = [
    (lambda r: r["eie"].update(fifo_dept=8), r"unknown key 'eie.fifo_dept'; allowed keys here: .*fifo_depth"),
    (lambda r: r["eie"].update(pes=0), r"eie.pes = 0 is invalid: must be an integer >= 1"),
    (lambda r: r["eie"].update(pes="many"), r"eie.pes = 'many' is invalid: must be an integer"),
    (lambda r: r.update(machine="tpu"), r"machine = 'tpu' is invalid: must be one of .*'cnvlutin'.*'dense'.*'eie'"),
    (lambda r: r.update(clock_mhz=-5), r"clock_mhz = -5.0 is invalid: must be a number > 0"),
    (lambda r: r.pop("eie"), r"section 'eie' is missing"),
    (lambda r: r.update(dense={"tiles": 4}), r"section 'dense' does not apply to machine 'eie'"),
    (lambda r: r["memory"]["buffers"].pop("pointers"), r"memory.buffers lacks pointers"),
    (lambda r: r["energy"]["ops"][0].pop("source"), r"missing key 'energy.ops\[0\].source'"),
    (lambda r: r["energy"]["ops"][0].update(op="sqrt"), r"energy.ops\[0\].op = 'sqrt' is invalid: must be one of"),
    (lambda r: r["arithmetic"].update(weight_bits=12), r"arithmetic.weight_bits = 12 is invalid: must be one of 4, 8, 16, 32"),
    (lambda r: r["memory"]["buffers"]["pointers"].update(per="tile"), r"memory.buffers.pointers.per = 'tile' is invalid: machine 'eie' has no tiles"),
    (lambda r: r["memory"]["buffers"]["pointers"].update(per="bank"), r"per = 'bank' is invalid: must be one of 'chip', 'tile', 'pe'"),
    (lambda r: r["memory"].update(weights_resident="yes"), r"memory.weights_resident = 'yes' is invalid: must be true or false"),
    (lambda r: r["memory"]["buffers"]["sparse_matrix"].update(bank_kb=8192),
     r"memory.buffers.sparse_matrix: 8192 KiB x 64 bits is outside cacti45nm.csv \(sram, itrs-lop: 0.25..4096 KiB, 16..512 bits.*give read_pj, write_pj and leakage_mw"),
    (lambda r: r["memory"]["buffers"]["pointers"].update(technology="sttram"), r"memory.buffers.pointers.technology = 'sttram' is invalid: must be one of 'sram', 'edram', 'regfile'"),
    (lambda r: r["memory"]["buffers"]["pointers"].update(bank_width_bits=0), r"memory.buffers.pointers.bank_width_bits = 0 is invalid: must be an integer >= 1"),
    (lambda r: r["static_power"].update(per="tile"), r"static_power.per = 'tile' is invalid: machine 'eie' has no tiles"),
    (lambda r: r.pop("static_power"), r"missing key 'static_power'"),
    (lambda r: r["energy"].update(memory_table="/nonexistent/table.csv"), r"memory table /nonexistent/table.csv: file not found"),
]


@pytest.mark.parametrize("edit,message", BAD)
def test_malformed_config_names_key_value_and_allowed(tmp_path, edit, message, capsys):
    path = _write(tmp_path, edit)
    with pytest.raises(ConfigError, match=message):
        load_arch(path)
    assert main(["config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and str(path) in err


def test_not_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_arch(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_arch(tmp_path / "nope.yaml")


def test_overrides_are_validated_too():
    assert load_arch(CONFIGS / "eie.yaml", {"eie.pes": 4}).params.pes == 4
    with pytest.raises(ConfigError, match="eie.fifo_depth = 0"):
        load_arch(CONFIGS / "eie.yaml", {"eie.fifo_depth": 0})
    with pytest.raises(ConfigError, match="'cnvlutin' is not a section"):
        load_arch(CONFIGS / "eie.yaml", {"cnvlutin.tiles": 4})


def test_per_pe_buffers_scale_with_the_number_of_pes():
    from accelsim.sim.memory import total_capacity
    small = load_arch(CONFIGS / "eie.yaml", {"eie.pes": 4})
    big = load_arch(CONFIGS / "eie.yaml", {"eie.pes": 256})
    assert total_capacity(small, "sparse_matrix") == 4 * 128 * 1024
    assert total_capacity(big, "sparse_matrix") == 256 * 128 * 1024


def test_configs_by_name_from_anywhere(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # not the repository: names find the bundled configs
    assert load_arch("eie") == load_arch(CONFIGS / "eie.yaml")
    # A file of that name wins over the bundled config.
    (tmp_path / "eie").write_text((CONFIGS / "dense.yaml").read_text().replace(
        "energy: ", f"energy: {CONFIGS}/"))
    assert load_arch("eie").machine == "dense"
    with pytest.raises(ConfigError, match=r"'tpu': no such file, and no bundled config of that "
                       r"name \(bundled: cnvlutin, dcnn, dense, eie, scnn, systolic\)"):
        load_arch("tpu")
    with pytest.raises(ConfigError, match="file not found"):  # a path is never a name
        load_arch("configs/eie")

    assert main(["config", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert ["eie", "eie", "64"] in [line.split()[:3] for line in listed] and len(listed) == 7
    assert main(["config", "systolic"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["systolic"]["rows"] == 32
    assert main(["compare", "--arch", "dense", "--arch", "tpu", "--trace", "t", "--out", "o"]) == 2
    assert "bundled: cnvlutin" in capsys.readouterr().err
