"""Evidence for issue 13: an `akg_cli op` session under tmux whose model is the exchange provider.

    python scripts/session_exchange_demo.py OUT_DIR [--answer-timeout 1800] [--message-timeout 14400]

It starts `akg_cli op --framework torch --backend cpu --dsl cpp --model llm` (the bundled CPU
target) in a tmux session, types "Generate a relu kernel", then "make it faster", then "export
the fastest kernel", then /status and /exit, and saves what the screen showed after each step:

    OUT_DIR/01_generate.txt  02_make_it_faster.txt  03_export.txt  04_status.txt  05_exit.txt
    OUT_DIR/screen.txt       the whole session, as the terminal showed it
    OUT_DIR/exchange/        the request files a stand-in model answers (see below)
    OUT_DIR/work/akg_runs/   run directories, and sessions/<id>/ (transcript.md, kernels, exports)

This script never answers a request: a stand-in model (a person or another agent) must. Each
request of every agent (kernel_agent, task_constructor, kernel_designer, kernel_gen, conductor,
kernel_fixer) appears as

    OUT_DIR/exchange/NNNN_<level>.request.md    the conversation, readable; read this
    OUT_DIR/exchange/NNNN_<level>.request.json  the same as JSON (messages, answer_file)

and the stand-in writes its answer, as a chat model would give it, to

    OUT_DIR/exchange/NNNN_<level>.answer.md

(write it to another name and rename it, or write it in one go). What an answer must look like is
said in the request itself: the kernel agent's system message asks for one JSON object
{"kind": ..., "say": ..., "tool": ..., "args": {...}}; the other agents ask for one fenced code
block, a design sketch, or DECISION/REASON lines. Requests come one at a time; the session shows
"… asking the model" while it waits.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from tmux_screen import Screen  # noqa: E402

STEPS = [("01_generate", "Generate a relu kernel"), ("02_make_it_faster", "make it faster"),
         ("03_export", "export the fastest kernel"), ("04_status", "/status")]


def environment(out: Path, timeout_s: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKG_AGENTS_") and k in (
        "PATH", "HOME", "LANG", "LC_ALL", "VIRTUAL_ENV", "PYTHONPATH", "LD_LIBRARY_PATH")}
    env.update({"TERM": "xterm-256color", "AKG_AGENTS_CONFIG": str(out / "no_config.yaml"),
                "AKG_AGENTS_LLM__PROVIDER": "exchange", "AKG_AGENTS_LLM__EXCHANGE_DIR": str(out / "exchange"),
                "AKG_AGENTS_LLM__TIMEOUT_S": str(timeout_s)})
    env.setdefault("LANG", "C.UTF-8")
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the screen captures, the exchange folder and the runs")
    parser.add_argument("--answer-timeout", type=float, default=1800.0,
                        help="seconds the session waits for one answer file before that step fails (llm.timeout_s)")
    parser.add_argument("--message-timeout", type=float, default=14400.0,
                        help="seconds this script waits for the session to finish one message (several requests)")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    (out / "work").mkdir(parents=True, exist_ok=True)
    (out / "exchange").mkdir(exist_ok=True)
    argv = [sys.executable, "-m", "akg_agents.cli", "op", "--framework", "torch", "--backend", "cpu", "--dsl", "cpp",
            "--model", "llm"]
    print(f"requests appear in {out / 'exchange'} as NNNN_<level>.request.md; answers go to NNNN_<level>.answer.md",
          flush=True)
    with Screen("exchange-demo", argv, out / "work", environment(out, args.answer_timeout), height=60) as screen:
        try:
            screen.wait_prompt("akg>", 120)
            for name, message in STEPS:
                start = screen.mark()
                screen.type(message)
                screen.wait_for(message, 30, after=start)
                screen.wait_prompt("akg>", args.message_timeout)
                (out / f"{name}.txt").write_text(screen.text()[start:].strip() + "\n")
                print(f"{name}: done", flush=True)
            start = screen.mark()
            screen.type("/exit")
            screen.wait_for("[program exited", 120, after=start)
            (out / "05_exit.txt").write_text(screen.text()[start:].strip() + "\n")
        finally:
            (out / "screen.txt").write_text(screen.text().rstrip() + "\n")
    print(f"screen captures in {out}")


if __name__ == "__main__":
    main()
