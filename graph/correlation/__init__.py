"""The steps of the pandas correlation, split out of :mod:`graph.correlate` (which re-exports them
and holds the definitions in its module docstring): ``common``, ``sessions``, ``ip_hints``, ``hops``.
"""
