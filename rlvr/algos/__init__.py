"""Pure loss, advantage, KL and reduction functions behind registries.

Every entry of a registry has the same signature; a new method is a new function plus one
registry line. Hyperparameters arrive as keyword arguments (bound from config with
`functools.partial`); no function here reads a config object or calls `.item()`.
"""
from rlvr.algos.advantages import ADVANTAGES
from rlvr.algos.kl import KL
from rlvr.algos.losses import LOSSES
from rlvr.algos.reduce import REDUCE

__all__ = ["ADVANTAGES", "KL", "LOSSES", "REDUCE"]
