"""Built-in backend (device) plugins, one file each: cpu, cuda, ascend. See dsl/backend.py."""
