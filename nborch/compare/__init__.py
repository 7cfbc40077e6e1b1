"""Comparing the attempts of a run with evidence: diffs, tests, gates — the engine of issue [5/8].

Built so far: pure pieces the comparison will be assembled from (see the modules).
"""
