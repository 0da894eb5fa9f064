"""What a confirmation says: its verdict words, and the seeds it may spend by default.

One source for the words: the confirmation writes them into `confirmed.csv`,
the command line prints them, and the plots colour by them.

- `BETTER` / `WORSE`: a boundary rejected "no difference" (family-wise alpha).
- `EQUIVALENT`: the difference's interval lies within the margin (TOST).
- `NOT_SETTLED`: stopped (futility, or the seed limit) while the configuration
  and the baseline trained on different shares of their seeds: a
  train-or-fail difference that more seeds would tell, not an absence of one.
- `NO_DIFFERENCE`: stopped with none of the above; the line says how large a
  difference the design could have seen.

The ablation of the confirmed winner (`confirmation.ablation`) says of each tap:

- `NEEDED`: removing it costs something: the winner beats the variant
  without it (one-sided, family-wise alpha over the taps).
- `NOT_NEEDED`: the variant without it is not worse than the winner by the
  margin or more (one-sided non-inferiority).
- `NOT_SETTLED`: neither by the seed limit (the same words as confirm's).
"""

from __future__ import annotations

BETTER = "better"
WORSE = "worse"
EQUIVALENT = "equivalent"
NO_DIFFERENCE = "no detectable difference"
NOT_SETTLED = "not settled"
VERDICTS = (BETTER, WORSE, EQUIVALENT, NO_DIFFERENCE, NOT_SETTLED)
CLAIMS = (BETTER, WORSE)  # the verdicts that reject "no difference"
NEEDED = "needed"
NOT_NEEDED = "not needed"
TAP_VERDICTS = (NEEDED, NOT_NEEDED, NOT_SETTLED)  # the ablation's, per tap

# `confirm --seeds`' default, the most seeds a configuration trains on: the
# smallest limit whose simulated power is >= 0.8 wherever a replay table's best
# gain exceeds 2 epsilon, and on the train-or-fail model at the committed
# deep_plain run's rates (0.80 at 8 seeds, 0.88 at 9; `bench.replay.confirm`,
# docs/replay.md "The confirmation's seed limit").
SEEDS = 9
