"""LLM agents: KernelDesigner, KernelGen, Conductor, TaskConstructor.

Each agent is a small class over `AgentIO` (prompting.py) with its Jinja2 prompt in prompts/.
Agents return records or plain values; workflows decide what to do with them.
"""
