"""Summary arithmetic: per model and machine, what pruning buys over the dense model.

From the TOTAL rows of a results table: MAC %, cycles, latency, energy, and
the speedup and energy saving (both as "x times") of every variant over
  - the dense variant of the same model on the same machine, and
  - the dense variant of the same model on the reference machine (the registry entry
    with reference=True: DaDianNao's dense tile array).
Missing references give NaN rather than a guess.
"""

import numpy as np
import pandas as pd

from ..defaults import TOTAL_ROW
from ..sim.machines import MACHINES

SUMMARY_COLUMNS = ["model", "arch", "machine", "variant", "mac_percent", "cycles_total",
                   "latency_us", "energy_uj", "speedup_vs_dense_model",
                   "energy_saving_vs_dense_model", "speedup_vs_dense_machine",
                   "energy_saving_vs_dense_machine"]


def summarize(table):
    totals = table[table["layer"] == TOTAL_ROW].copy()
    totals["mac_percent"] = 100 * totals["macs_effective"] / totals["macs_dense"]
    totals["energy_uj"] = totals["energy_pj"] / 1e6
    dense_model = totals[totals["variant"] == "dense"].set_index(["model", "arch"])
    reference = [name for name, machine in MACHINES.items() if machine.reference]
    dense_machine = totals[(totals["variant"] == "dense") & totals["machine"].isin(reference)]
    dense_machine = dense_machine.drop_duplicates("model").set_index("model")

    def ratio(reference, key, column):
        if key in reference.index:
            value = reference.loc[key, column]
            return float(value.iloc[0] if isinstance(value, pd.Series) else value)
        return np.nan

    rows = []
    for _, row in totals.iterrows():
        model_key = (row["model"], row["arch"])
        rows.append({
            **{c: row[c] for c in ("model", "arch", "machine", "variant", "mac_percent",
                                   "cycles_total", "latency_us", "energy_uj")},
            "speedup_vs_dense_model": ratio(dense_model, model_key, "cycles_total") / row["cycles_total"],
            "energy_saving_vs_dense_model": ratio(dense_model, model_key, "energy_pj") / row["energy_pj"],
            "speedup_vs_dense_machine": ratio(dense_machine, row["model"], "cycles_total") / row["cycles_total"],
            "energy_saving_vs_dense_machine": ratio(dense_machine, row["model"], "energy_pj") / row["energy_pj"],
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def missing_baselines(summary):
    """One line for each empty comparison in a summary, saying why it is empty, so that no
    column or figure is left blank without a word."""
    notes = []
    for model, rows in summary.groupby("model", sort=False):
        if rows["speedup_vs_dense_model"].isna().all():
            notes.append(f"model {model}: no 'dense' variant among the traces, so the speedup "
                         "and energy saving over the dense model are empty (trace the dense "
                         "model too)")
        if rows["speedup_vs_dense_machine"].isna().all():
            reference = ", ".join(n for n, m in MACHINES.items() if m.reference)
            notes.append(f"model {model}: no dense variant on a reference machine ({reference}), "
                         "so the speedup and energy saving over the dense machine are empty")
    return notes
