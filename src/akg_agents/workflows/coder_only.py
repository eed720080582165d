"""coder_only: KernelGen -> verify -> Conductor loop -> profile, without the design step. (See workflows/classic.py.)"""

from akg_agents.workflows.classic import pipeline

run = pipeline(design=False, profile=True)
