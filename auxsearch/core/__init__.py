"""The core: errors, names, rules, the task table, the space file and the run directory.

Every stage imports from here; nothing here imports a stage.
"""
