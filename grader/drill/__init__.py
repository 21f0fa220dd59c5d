"""Drills: the session model and its state file (`session`), the drill commands (`drill`),
what the candidate sees (`sheet`) and the quick start's demo (`demo`)."""
