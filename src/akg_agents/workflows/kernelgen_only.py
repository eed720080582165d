"""kernelgen_only: generate and verify, no profiling (correctness first, fastest turnaround). (See workflows/classic.py.)"""

from akg_agents.workflows.classic import pipeline

run = pipeline(design=False, profile=False)
