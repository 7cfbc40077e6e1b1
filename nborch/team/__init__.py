"""Who does what: classify each task (:mod:`.classify` with the rules of :mod:`.rules`) and assign
agents to it (:mod:`.assign`), with a justification for every choice; :mod:`.history` reads what
the repository's recorded runs say per task type, for ``per_task="auto"``."""
