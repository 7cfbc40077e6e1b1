"""Processes: how one is described (:mod:`.spec`), started, timed out and killed with all its
descendants (:mod:`.runner`, :mod:`.tree`, :mod:`.watchdog`), its output split and kept
(:mod:`.lines`), and the environment it gets (:mod:`.env`)."""
