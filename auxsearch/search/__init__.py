"""The search: the HyperModel, Hyperband on Keras Tuner, a run, its workers and exports."""
