"""The session without a terminal: bad input gets one line and the session goes on; the session
store round-trips; porting wraps a kernel into a task; input and settings compatibility."""

from __future__ import annotations

from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from akg_agents.agents.kernel_agent_port import has_own_inputs, is_reference_task, reference_task
from akg_agents.cli.session import Session
from akg_agents.cli.session_input import SlashCompleter, unfinished
from akg_agents.cli.session_store import KernelEntry, SessionStore, find_session, list_sessions
from akg_agents.cli.session_tools import SessionTarget, Workbench
from akg_agents.config.settings import load_settings
from akg_agents.dsl import get_plugin
from akg_agents.errors import LLMError, TaskError
from akg_agents.llm.base import Message
from akg_agents.llm.fake import ScriptedProvider
from akg_agents.llm.meter import MeteredProvider
from akg_agents.records import RunConfig, Task

ROOT = Path(__file__).resolve().parents[2]
RELU = (ROOT / "examples" / "tasks" / "relu.py").read_text()
KERNEL = get_plugin("cpp").example()


def session(tmp: Path, llm: MeteredProvider | None) -> Session:
    config = RunConfig("torch", "cpu", "x86_64", "cpp", "default", "llm" if llm else "builtin")
    store = SessionStore.create(str(tmp / "runs"), SessionTarget().as_dict(), config.model)
    from akg_agents.cli.app import console

    return Session(Workbench(store, SessionTarget(), load_settings(), config, console, llm))


def test_builtin_session_bad_input_is_one_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chat = session(tmp_path, None)
    for message, expected in [("", "empty message: describe what you need, paste code, or /help"),
                              ("   ", "empty message"),
                              ("def f(a):\n    b = a * 2\n    return b\n", "paste #1 is not a KernelBench task"),
                              (KERNEL, "paste #2 is a kernel; porting it needs a model"),
                              ("Generate a relu kernel", "'Generate a relu kernel' needs a model"),
                              ("/nope", "unknown command /nope"),
                              ("/show", "there is no kernel yet in this session")]:
        assert chat.handle(message) is True
        out = capsys.readouterr().out.strip()
        assert expected in out and len(out.splitlines()) == 1, out
    assert chat.handle("/exit") is False
    assert chat.store.state.messages == 3 and len(chat.store.state.pastes) == 2


def test_a_provider_failing_mid_session_is_one_line_and_the_session_goes_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calls = {"n": 0}

    def flaky(messages: list[Message]) -> str:
        calls["n"] += 1
        if calls["n"] == 2:
            raise LLMError("cannot connect to http://127.0.0.1:9/v1", hint="check the endpoint")
        return '{"tool": "reply", "args": {"text": "I can write kernels; describe the op."}}'

    chat = session(tmp_path, MeteredProvider(ScriptedProvider([("", flaky)])))
    assert chat.handle("what can you do?")
    assert "agent: I can write kernels" in capsys.readouterr().out
    assert chat.handle("what can you do now?")
    out = capsys.readouterr().out
    assert "error: cannot connect to http://127.0.0.1:9/v1" in out and "Traceback" not in out
    assert chat.handle("and now?")
    assert "agent: I can write kernels" in capsys.readouterr().out
    transcript = (chat.store.root / "transcript.md").read_text()
    assert "error: cannot connect" in transcript
    assert len(list((chat.store.root / "prompts").glob("*_kernel_agent.prompt.md"))) == 2


def test_session_store_round_trips_and_is_found(tmp_path: Path) -> None:
    store = SessionStore.create(str(tmp_path), {"dsl": "cpp", "backend": "cpu"}, "builtin")
    number = store.add_paste(RELU)
    task = store.add_task("relu", store.paste(number), f"paste #{number}")
    store.add_kernel(KERNEL, KernelEntry("", task.id, "cpp", "", "passed", "run_workflow default", 1.5, 0.2, 0.3))
    store.add_kernel(KERNEL, KernelEntry("", task.id, "cpp", "", "passed", "generate from k1", 2.0, 0.15, 0.3))
    store.save()
    again = SessionStore.open(store.root)
    assert again.state == store.state and again.best() is not None and again.best().id == "k2"  # type: ignore[union-attr]
    assert find_session(store.state.id, str(tmp_path)) == store.root and find_session("nope", str(tmp_path)) is None
    assert [s.state.id for s in list_sessions(str(tmp_path))] == [store.state.id]
    with pytest.raises(Exception, match="there is no paste #3"):
        store.paste(3)
    assert "k1: passed, 1.50x over eager (0.2000 ms vs 0.3000 ms)" in again.state.kernels[0].line()


def test_a_kernel_becomes_the_reference_of_a_task() -> None:
    inputs = Task("relu", RELU, "/x/relu.py")
    task = reference_task(KERNEL, "ref_relu.py", inputs)
    assert is_reference_task(task) and task.name == "relu_from_ref_relu"
    body = task.source
    assert body.index("def get_inputs") < body.index("class ModelNew") < body.index("class Model(ModelNew)")
    own = KERNEL + "\n\ndef get_inputs():\n    return []\n\n\ndef get_init_inputs():\n    return []\n"
    assert has_own_inputs(own) and "from relu" not in reference_task(own, "k.py").source
    with pytest.raises(TaskError, match="defines no get_inputs"):
        reference_task(KERNEL, "ref_relu.py")
    with pytest.raises(TaskError, match="defines no `ModelNew`"):
        reference_task(RELU, "relu.py", inputs)
    with pytest.raises(TaskError, match="syntax error"):
        reference_task("def (:", "bad.py", inputs)


def test_enter_waits_for_unfinished_input_and_slash_commands_complete() -> None:
    assert not unfinished("Generate a relu kernel")
    assert unfinished("look:\n```python\nimport torch") and not unfinished("```python\nx = 1\n```")
    assert unfinished("first line \\")
    completer = SlashCompleter(["/help", "/status", "/save", "/exit"])
    found = [c.text for c in completer.get_completions(Document("/s"), CompleteEvent())]
    assert found == ["/status", "/save"]
    assert not list(completer.get_completions(Document("make it /s"), CompleteEvent()))


def test_the_original_tools_variables_map_to_llm_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AKG_AGENTS_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("AKG_AGENTS_BASE_URL", "https://api.deepseek.com/beta/")
    monkeypatch.setenv("AKG_AGENTS_API_KEY", "sk-1234")
    monkeypatch.setenv("AKG_AGENTS_MODEL_NAME", "deepseek-chat")
    monkeypatch.setenv("AKG_AGENTS_MODEL_ENABLE_THINK", "enabled")
    llm = load_settings().llm
    assert (llm.provider, llm.base_url, llm.api_key) == ("openai_compat", "https://api.deepseek.com/beta/", "sk-1234")
    assert llm.models == {"complex": "deepseek-chat", "standard": "deepseek-chat", "fast": "deepseek-chat"}
    monkeypatch.setenv("AKG_AGENTS_PROVIDER_TYPE", "anthropic")
    monkeypatch.setenv("AKG_AGENTS_LLM__MODELS__FAST", "small")  # our own names win over the aliases
    llm = load_settings().llm
    assert llm.provider == "anthropic" and llm.models["fast"] == "small" and llm.models["standard"] == "deepseek-chat"


def test_show_diff_export_and_set_target_act_on_the_session(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CONFIG", str(tmp_path / "none.yaml"))
    chat = session(tmp_path, None)
    bench, store = chat.bench, chat.store
    task = store.add_task("relu", RELU, "paste #1")
    store.add_kernel(KERNEL, KernelEntry("", task.id, "cpp", "", "passed", "run_workflow default", 1.5, 0.2, 0.3))
    store.add_kernel(KERNEL.replace("schedule(static)", "schedule(guided)"),
                     KernelEntry("", task.id, "cpp", "", "mismatch", "generate from k1"))
    assert "shown k1" in bench.show({"kernel": "k1"}) and "relu_forward" in capsys.readouterr().out
    diff = bench.diff({"a": "k1", "b": "k2"})
    assert "-    #pragma omp parallel for simd schedule(static)" in diff and "+" in diff
    said = bench.export({"kernel": "k2", "path": str(tmp_path / "out" / "k2.py")})
    assert "did not pass verification: mismatch" in said and (tmp_path / "out" / "k2.py").is_file()
    assert bench.export({})  # the best of the current task: k1
    assert list((store.root / "exports").glob("relu_cpp_k1.py"))
    assert "precision bf16" in bench.set_target({"precision": "bf16"}) and bench.config.precision == "bf16"
    with pytest.raises(Exception, match="--precision must be one of"):
        bench.set_target({"precision": "fp8"})
    with pytest.raises(Exception, match="does not run on backend cuda"):
        bench.set_target({"backend": "cuda", "arch": "a100"})
    assert bench.config.precision == "bf16" and bench.config.backend == "cpu"  # a bad change changes nothing
    assert store.state.target["precision"] == "bf16"


def test_a_pasted_kernel_becomes_the_reference_of_the_session(tmp_path: Path) -> None:
    chat = session(tmp_path, None)
    bench, store = chat.bench, chat.store
    kernel_paste = store.add_paste(KERNEL)
    with pytest.raises(Exception, match="there is no task yet"):  # no inputs known: the kernel has no get_inputs
        bench.use_paste({"paste": kernel_paste, "as": "reference_kernel"})
    bench.use_paste({"paste": store.add_paste(RELU), "as": "task"})
    said = bench.use_paste({"paste": f"#{kernel_paste}", "as": "reference_kernel"})
    assert "the kernel of paste #1 is its reference Model" in said
    ported = store.task()
    assert ported.id == "t2" and ported.origin == "ported from paste #1"
    assert is_reference_task(Task(ported.name, Path(ported.path).read_text()))
    with pytest.raises(Exception, match='"as" must be "task" or "reference_kernel"'):
        bench.use_paste({"paste": 1, "as": "kernel"})
    with pytest.raises(Exception, match="must be a number"):
        bench.use_paste({"paste": "first"})
