"""default: design -> generate -> verify -> (fix | regenerate | stop) -> profile. (See workflows/classic.py.)"""

from akg_agents.workflows.classic import pipeline

run = pipeline(design=True, profile=True)
