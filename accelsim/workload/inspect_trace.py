"""Per-layer density and MAC summary of a trace (what `accelsim inspect` prints)."""

import pandas as pd

from ..core.progress import no_progress
from ..defaults import TOTAL_ROW
from .macs import layer_macs


def trace_summary(trace, threshold=0.0, progress=None):
    """DataFrame with one row per layer: shapes, densities, dense and effective MACs.

    MAC figures are per inference, averaged over the trace's samples.
    """
    progress = progress or no_progress
    rows = []
    for layer in progress(trace.layers, f"inspect {trace.model}/{trace.variant}"):
        macs = layer_macs(layer, threshold)
        rows.append({
            "name": layer.name,
            "kind": layer.kind,
            "input_shape": "x".join(map(str, layer.input_shape)),
            "weight_shape": "x".join(map(str, layer.weight.shape)),
            "output_shape": "x".join(map(str, layer.output_shape)),
            "weights": macs.weights,
            "weights_nonzero": macs.weights_nonzero,
            "activations": macs.activations,
            "activations_nonzero": float(macs.activations_nonzero.mean()),
            "weight_density": macs.weight_density,
            "activation_density": float(macs.activation_density.mean()),
            "macs_dense": macs.macs_dense,
            "macs_effective": float(macs.macs_effective.mean()),
        })
    table = pd.DataFrame(rows)
    table["mac_fraction"] = table["macs_effective"] / table["macs_dense"]
    # JPnet's "Acti %" of a layer is what is left of its output for the next layer: the
    # next layer's input (after pooling and the activation mask). The last layer has none.
    table["output_activation_density"] = table["activation_density"].shift(-1)
    return table


def summary_totals(table):
    following = table.iloc[1:]
    return {
        "weight_density": table["weights_nonzero"].sum() / table["weights"].sum(),
        "activation_density": table["activations_nonzero"].sum() / table["activations"].sum(),
        "output_activation_density": (following["activations_nonzero"].sum()
                                      / following["activations"].sum()) if len(following) else None,
        "macs_dense": int(table["macs_dense"].sum()),
        "macs_effective": float(table["macs_effective"].sum()),
        "mac_fraction": table["macs_effective"].sum() / table["macs_dense"].sum(),
    }


def _count(value):
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.2f}{unit}"
    return f"{value:.0f}"


def format_summary(trace, table):
    totals = summary_totals(table)
    shown = pd.DataFrame({
        "layer": table["name"],
        "kind": table["kind"],
        "input": table["input_shape"],
        "weight": table["weight_shape"],
        "output": table["output_shape"],
        "weight %": (100 * table["weight_density"]).map("{:.2f}".format),
        "act % (in)": (100 * table["activation_density"]).map("{:.2f}".format),
        "act % (out)": (100 * table["output_activation_density"]).map(
            lambda v: "-" if pd.isna(v) else f"{v:.2f}"),
        "MACs dense": table["macs_dense"].map(_count),
        "MACs eff.": table["macs_effective"].map(_count),
        "MAC %": (100 * table["mac_fraction"]).map("{:.2f}".format),
    })
    shown.loc[len(shown)] = [
        TOTAL_ROW, "", "", "", "",
        f"{100 * totals['weight_density']:.2f}", f"{100 * totals['activation_density']:.2f}",
        "-" if totals["output_activation_density"] is None
        else f"{100 * totals['output_activation_density']:.2f}",
        _count(totals["macs_dense"]), _count(totals["macs_effective"]),
        f"{100 * totals['mac_fraction']:.2f}",
    ]
    dataset = trace.dataset or "data set not recorded"  # capture_trace's default is ""
    header = (f"{trace.model} / {trace.variant} / {dataset}: {len(trace.layers)} layers, "
              f"{trace.samples} sample(s); MACs per inference, averaged over samples")
    return header + "\n" + shown.to_string(index=False)


def summary_json(trace, table):
    columns = ["name", "kind", "input_shape", "weight_shape", "output_shape", "weight_density",
               "activation_density", "output_activation_density", "macs_dense",
               "macs_effective", "mac_fraction"]
    totals = summary_totals(table)
    layers = table[columns].astype(object).where(table[columns].notna(), None)
    return {
        "model": trace.model,
        "variant": trace.variant,
        "dataset": trace.dataset,
        "samples": trace.samples,
        "layers": layers.to_dict(orient="records"),
        "total": {key: (int(v) if key == "macs_dense" else None if v is None else float(v))
                  for key, v in totals.items()},
        "metadata": trace.metadata,
    }
