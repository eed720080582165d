"""Run a command with SIGINT at its default (background jobs of a non-interactive shell ignore it)."""
import os
import signal
import sys

signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])
