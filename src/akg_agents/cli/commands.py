"""The core commands: op, verify, resume."""

from __future__ import annotations

from pathlib import Path

import typer

from akg_agents.cli import targets
from akg_agents.cli.app import (
    app,
    console,
    current_run,
    default_arch,
    host_arch,
    parse_devices,
    writable_folder,
)
from akg_agents.cli.render import RichReporter, results_table
from akg_agents.config.settings import Settings, load_settings, validate_target
from akg_agents.dsl.registry import target_help
from akg_agents.errors import ConfigError, LLMError
from akg_agents.records import EvalResult, RunConfig, Task
from akg_agents.store.summary import summary_rows
from akg_agents.tasks.loader import STDIN, STDIN_TASK_NAME, load_task
from akg_agents.workflows.runner import RunOutcome, execute, resume

TARGET_HELP = target_help()  # from the installed DSL and backend plugins


PRECISIONS = ("fp32", "fp16", "bf16")
PRECISION_HELP = "KernelBench's precision option: fp32, fp16 or bf16 (floating inputs and weights cast to it; tolerances by dtype)."
TF32_HELP = "Accept TF32 matrix math for fp32 tasks (looser fp32 tolerance); off: fp32 means fp32."
TASK_HELP = (f"KernelBench-format task file (Model, get_inputs, get_init_inputs); '{STDIN}' reads it from standard "
             f"input (the task is then named '{STDIN_TASK_NAME}').")
MODELS = ("builtin", "llm")


def build_config(
    settings: Settings, framework: str, backend: str, arch: str, dsl: str, workflow: str | None, model: str | None,
    devices: str, baseline: str, max_candidates: int, threads: int | None, scale_budget_ms: float | None,
    precision: str = "fp32", allow_tf32: bool = False,
) -> RunConfig:
    validate_target(framework, backend, arch, dsl)
    check_host_arch(backend, arch)
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)} (got '{precision}')")
    if baseline not in ("eager", "compile"):
        raise ConfigError(f"--baseline must be eager or compile (got '{baseline}')")
    if max_candidates < 1:
        raise ConfigError("--max-candidates must be at least 1")
    if threads is not None and threads < 0:
        raise ConfigError(f"--threads must be 0 (all cores) or more (got {threads})")
    device_ids = check_devices(backend, devices)
    chosen_model = choose_model(settings, model)
    return RunConfig(
        framework=framework, backend=backend, arch=arch, dsl=dsl,
        workflow=workflow or settings.default_workflow, model=chosen_model, devices=device_ids,
        baseline=baseline, max_candidates=max_candidates, verify_timeout_s=settings.verify_timeout,
        warmup_times=settings.profile_settings.warmup_times, run_times=settings.profile_settings.run_times,
        seeds=list(settings.seeds), threads=settings.threads if threads is None else threads,
        memory_limit_mb=settings.memory_limit_mb, scale_budget_ms=scale_budget_ms,
        precision=precision, allow_tf32=allow_tf32, agent_models=dict(settings.agent_model_config),
    )


def check_host_arch(backend: str, arch: str) -> None:
    """A target this host cannot build for (the backend plugin says: the cpu compiles with -march=native)."""
    targets.check_host_arch(backend, arch, host_arch())


def check_devices(backend: str, text: str) -> list[int]:
    return targets.check_device_numbers(backend, parse_devices(text), text)


def require_local_toolchain(config: RunConfig, settings: Settings) -> None:
    """One line and exit 3 before anything runs when this machine cannot evaluate the DSL (no
    compiler, no device runtime such as torch_npu); runs evaluated elsewhere are not held back."""
    if not (config.defer_dir or settings.ray_address):
        targets.require_toolchain(config.dsl)


def choose_model(settings: Settings, model: str | None) -> str:
    """--model, or the LLM when one is configured and usable; a configured LLM that cannot be used
    (no API key yet, say) is said once and the built-in generator runs, so no run starts only to fail."""
    from akg_agents.llm.factory import provider_problem

    if model is not None and model not in MODELS:
        raise ConfigError(f"--model must be builtin or llm (got '{model}')")
    if model == "builtin":
        return model
    problem = provider_problem(settings.llm)
    if model == "llm":
        if problem is not None:
            raise LLMError(str(problem), hint=_join_hints(problem.hint, "or use --model builtin (no LLM needed)"))
        return model
    if problem is None:
        return "llm"
    if settings.llm.provider:
        console.print(f"[yellow]note:[/] the configured LLM cannot be used ({problem}); using the built-in generator "
                      "(pass --model llm to get an error instead)")
    return "builtin"


def require_llm(settings: Settings, why: str, instead: str) -> None:
    """One line before anything runs when `why` needs the model and none can be used."""
    from akg_agents.llm.factory import provider_problem

    problem = provider_problem(settings.llm)
    if problem is not None:
        raise LLMError(f"{why}: {problem}", hint=_join_hints(problem.hint, instead))


def _join_hints(*hints: str) -> str:
    return "; ".join(h for h in hints if h)


DEFER_HELP = ("Do not evaluate here: write each evaluation job as a bundle into DIR and park the run; run "
              "`akg_cli evaluate DIR` where the device is, then `akg_cli resume RUN` here.")
RAY_HELP = ("Evaluate on a Ray cluster's devices (one actor per GPU): auto, local, HOST:PORT or ray://HOST:PORT "
            "(setting ray_address; needs akg_agents[ray]).")


def scale_out(config: RunConfig, settings: Settings, defer: Path | None, ray_address: str | None) -> tuple[RunConfig, Settings]:
    """--defer DIR and --ray-address: candidates evaluated elsewhere than this machine's devices."""
    from dataclasses import replace

    from akg_agents.runtime.remote import require_ray

    if defer is not None and ray_address:
        raise ConfigError("--defer and --ray-address exclude each other: bundles are evaluated later, with "
                          "`akg_cli evaluate DIR --ray-address ADDR` if you like")
    if ray_address:
        settings = settings.model_copy(update={"ray_address": ray_address})
    if settings.ray_address and defer is None:
        require_ray()
        if len(config.devices) > 1:
            raise ConfigError("--devices picks this machine's GPUs; with --ray-address every GPU of the cluster is used",
                              hint="leave --devices out")
    if defer is None:
        return config, settings
    if config.scale_budget_ms:
        raise ConfigError("--scale-budget-ms times the task on the device, which a deferred run does not have",
                          hint="leave it out with --defer (and scale the task file's sizes yourself if needed)")
    folder = writable_folder(defer, "bundle folder (--defer)", "choose a writable one")
    return replace(config, defer_dir=str(folder.resolve())), settings


def one_task(tasks: list[Path] | None) -> Path | None:
    """`--task` names the one task of the command; given twice is a mistake, not 'the last wins'."""
    given = list(tasks or [])
    if len(given) > 1:
        raise ConfigError(f"--task given {len(given)} times ({', '.join(map(str, given))}); this command takes one task",
                          hint="run several tasks with `akg_cli bench FOLDER`")
    return given[0] if given else None


def run_with_progress(task: Task, config: RunConfig, settings: Settings, kernel: Path | None = None) -> RunOutcome:
    with RichReporter(console, progress_after_s=settings.progress_after_s) as reporter:
        reporter.step(f"preparing task '{task.name}' (checking it runs in the sandbox, reference outputs, eager timing)")
        return execute(task, config, settings, reporter, kernel_path=str(kernel) if kernel else None)


def show_outcome(outcome: RunOutcome) -> int:
    rows = summary_rows(outcome.store)
    if rows:
        console.print(results_table(rows))
    if outcome.declined:
        console.print(f"[yellow]The built-in generator does not cover this task:[/] {outcome.declined}")
    for row in rows:
        for flag in row["flags"]:
            console.print(f"[yellow]warning:[/] {row['candidate']}: {flag}")
    if outcome.best is not None:
        candidate, result = outcome.best
        console.print(f"[green]best[/] {candidate.id}: {_best_speed(result)}; {result.message}")
    else:
        console.print("[red]no candidate passed verification[/]")
    console.print(f"run directory:   {outcome.store.root}")
    if outcome.exported:
        console.print(f"exported kernel: {outcome.exported}")
    return 0 if outcome.best is not None else 1


def _best_speed(result: EvalResult) -> str:
    p = result.profile
    if p is None:
        return "not profiled"
    parts = [f"{p.speedup:.2f}x over eager PyTorch (median {p.candidate.median_ms:.4g} ms, p10-p90 spread "
             f"{p.candidate.spread_ms:.2g} ms, {p.input_sets} fresh input sets, {p.timed_checked} checked)"]
    if p.speedup_vs_compile is not None:
        parts.append(f"{p.speedup_vs_compile:.2f}x over torch.compile")
    if not p.counted:
        parts.append("NOT COUNTED: below the roofline floor")
    return ", ".join(parts)


REFERENCE_HELP = ("Port an existing kernel (a module defining ModelNew: CUDA C, Triton or C++ inside): its outputs "
                  "are the ground truth the new kernel is verified against. Inputs come from the kernel file's own "
                  "get_inputs/get_init_inputs, or from --task T.py (the kernel replaces its Model).")
DSL_ALIASES = {"cuda": "cuda_c"}  # the original tool's names


def dsl_alias(dsl: str) -> str:
    if dsl in DSL_ALIASES:
        console.print(f"[yellow]note:[/] --dsl {dsl} is called {DSL_ALIASES[dsl]} here; using {DSL_ALIASES[dsl]}")
        return DSL_ALIASES[dsl]
    return dsl


def check_port(reference_kernel: Path, config: RunConfig, request: str | None, kernel: Path | None) -> None:
    """Before anything runs: a port needs something that writes kernels from a kernel."""
    if request is not None:
        raise ConfigError("--reference-kernel takes its inputs from the kernel file or --task T.py, not --request")
    if config.model == "builtin" and config.workflow != "verifier_only":
        raise ConfigError("porting --reference-kernel needs an LLM: the built-in generator reads PyTorch, not kernels",
                          hint="configure a model (akg_cli config init), or check a kernel of yours against it: "
                               "--workflow verifier_only --kernel MINE.py")
    if config.workflow == "verifier_only" and kernel is None:
        raise ConfigError("--workflow verifier_only checks existing code: pass --kernel FILE")


def port_task(reference_kernel: Path, inputs: Task | None, log_dir: Path) -> Task:
    from akg_agents.agents.kernel_agent_port import reference_task_from_file, save_task

    made = save_task(reference_task_from_file(reference_kernel, inputs), log_dir / "ported")
    console.print(f"reference kernel {reference_kernel}: its outputs are the ground truth (task {made.path}); "
                  "'eager' timings below are this kernel's, the task's Model")
    return made


@app.command()
def op(
    task: list[Path] = typer.Option(None, "--task", "--task-file", "-t", metavar="FILE", help=TASK_HELP + " --task-file is the same."),
    request: str = typer.Option(None, "--request", "--intent", help="Instead of --task: describe the op in words; the configured LLM writes and validates the task. --intent is the same."),
    reference_kernel: Path = typer.Option(None, "--reference-kernel", metavar="K.py", help=REFERENCE_HELP),
    framework: str = typer.Option("torch", help="Framework of the reference model."),
    backend: str = typer.Option("cpu", help=targets.backend_help()),
    arch: str = typer.Option("", help=targets.arch_help()),
    dsl: str = typer.Option("cpp", help=targets.dsl_help() + " --dsl cuda means cuda_c."),
    workflow: str = typer.Option(None, help="default | kernelgen_only | verifier_only | coder_only | evolve | adaptive_search | poly_config (default: from the DSL's settings). evolve and adaptive_search search over a kernel database (<output>/kernels/); their knobs are the search.* settings. poly_config (cpu, cpp, an LLM): the model proposes PolyTOPS schedule configs for a loop-nest task."),
    model: str = typer.Option(None, help="'builtin' (no LLM; the default when none is configured) or 'llm' (the configured provider)."),
    devices: str = typer.Option("0", help="Comma-separated GPU numbers to evaluate on, e.g. 0,1 (the cpu is one device, 0)."),
    output: Path = typer.Option(None, "--output", "-o", help="Folder for run directories (default: log_dir setting, ./akg_runs)."),
    max_candidates: int = typer.Option(4, help="How many candidates to generate and evaluate."),
    baseline: str = typer.Option("eager", help="Baselines to time against: eager, or compile (eager and torch.compile)."),
    threads: int = typer.Option(None, help="CPU threads for kernels and eager PyTorch (default or 0: all cores)."),
    scale_budget_ms: float = typer.Option(None, help="Shrink the task's size constants until eager runs within this many ms."),
    precision: str = typer.Option("fp32", help=PRECISION_HELP),
    allow_tf32: bool = typer.Option(False, "--allow-tf32", help=TF32_HELP),
    kernel: Path = typer.Option(None, help="Existing kernel file (for --workflow verifier_only)."),
    defer: Path = typer.Option(None, "--defer", metavar="DIR", help=DEFER_HELP),
    ray_address: str = typer.Option(None, "--ray-address", metavar="ADDR", help=RAY_HELP),
) -> None:
    """Generate a kernel for TASK, verify it against PyTorch on several seeds, and profile it.

    Example (CPU, built-in generator, no API key):

        akg_cli op --framework torch --backend cpu --arch x86_64 --dsl cpp --task examples/tasks/relu.py

    `--task -` reads the task from standard input: `akg_cli op --task - < relu.py` (named 'task').

    Without --task and --request (in a terminal) it opens a session: describe what you need in words,
    paste KernelBench code or a kernel to port, then follow up ("make it faster", "now bf16").
    """
    task_file = one_task(task)
    dsl = dsl_alias(dsl)
    if task_file is None and request is None and reference_kernel is None:
        from akg_agents.cli.session import SessionTarget, start_session

        if kernel is not None or scale_budget_ms is not None:
            raise ConfigError(f"{'--kernel' if kernel is not None else '--scale-budget-ms'} needs --task FILE "
                              "(a session takes its tasks from the conversation)")

        start_session(SessionTarget(framework, backend, arch, dsl, workflow, model, devices, output,
                                    max_candidates, baseline, threads, precision, allow_tf32))
        return
    if task_file is not None and request is not None:
        raise ConfigError("give exactly one of --task FILE or --request TEXT")
    overrides = {"log_dir": str(output)} if output else {}
    settings = load_settings(dsl, overrides)
    config = build_config(settings, framework, backend, arch or default_arch(backend), dsl, workflow, model, devices,
                          baseline, max_candidates, threads, scale_budget_ms, precision, allow_tf32)
    config, settings = scale_out(config, settings, defer, ray_address)
    if config.workflow == "poly_config":  # a model to ask and a loop-nest DSL, before the task is prepared
        from akg_agents.workflows.poly_config import check_target

        check_target(config)
    if request is not None:
        require_llm(settings, "--request needs an LLM to write the task",
                    "or write the task file yourself and pass --task FILE")
    writable_folder(Path(settings.log_dir), "run folder",
                    "choose a writable one with -o DIR (or run from a folder you can write to)")
    if reference_kernel is not None:
        check_port(reference_kernel, config, request, kernel)
    if request is not None:
        from akg_agents.agents.task_constructor import task_from_request

        loaded, written = task_from_request(request, settings, config)
        console.print(f"constructed task {written}:\n", loaded.source, markup=False, highlight=False)
    else:
        loaded = load_task(task_file) if task_file is not None else None
    if reference_kernel is not None:
        loaded = port_task(reference_kernel, loaded, Path(settings.log_dir))
    assert loaded is not None
    source = " (read from standard input)" if str(task_file) == STDIN else ""
    require_local_toolchain(config, settings)
    console.print(f"[bold]akg_agents[/] op: task [bold]{loaded.name}[/]{source} on {backend}/{config.arch}, dsl {dsl}, "
                  f"workflow {config.workflow}, model {config.model}")
    outcome = run_with_progress(loaded, config, settings, kernel)
    raise typer.Exit(show_outcome(outcome))


@app.command()
def verify(
    kernel: Path = typer.Argument(..., help="Candidate file defining ModelNew."),
    task: list[Path] = typer.Option(..., "--task", "-t", metavar="FILE", help="The task the kernel claims to implement. " + TASK_HELP),
    backend: str = typer.Option("cpu", help=targets.backend_help()),
    arch: str = typer.Option("", help=targets.arch_help()),
    dsl: str = typer.Option("cpp", help="The kernel's language. " + targets.dsl_help()),
    output: Path = typer.Option(None, "--output", "-o", help="Folder for the run directory."),
    threads: int = typer.Option(None, help="CPU threads (default or 0: all cores)."),
    baseline: str = typer.Option("eager", help="eager or compile."),
) -> None:
    """Check existing code: static rules, outputs vs PyTorch on several seeds, then timing.

    Exit code 0 when the kernel passes, 1 when it does not (the reason is printed), 2 for bad input.
    """
    task_file = one_task(task)
    assert task_file is not None
    overrides = {"log_dir": str(output)} if output else {}
    settings = load_settings(dsl, overrides)
    config = build_config(settings, "torch", backend, arch or default_arch(backend), dsl, "verifier_only", "builtin",
                          "0", baseline, 1, threads, None)
    if not kernel.is_file():
        raise ConfigError(f"kernel file not found: {kernel}" if not kernel.exists() else f"{kernel} is a folder, not a kernel file")
    writable_folder(Path(settings.log_dir), "run folder",
                    "choose a writable one with -o DIR (or run from a folder you can write to)")
    loaded = load_task(task_file)
    require_local_toolchain(config, settings)
    outcome = run_with_progress(loaded, config, settings, kernel)
    for _candidate, result in outcome.store.results.values():
        if not result.ok:
            console.print(result.feedback())
    raise typer.Exit(show_outcome(outcome))


@app.command("resume")
def resume_command(
    run_dir: Path = typer.Argument(..., metavar="RUN_DIR|SESSION", help="A run directory printed by an earlier `akg_cli op --task`, or a session (`akg_cli sessions` lists them)."),
) -> None:
    """Continue a run that was interrupted, without redoing work already verified; or reopen a
    session of `akg_cli op` (a run directory holds config.yaml and task.py, a session session.json)."""
    from akg_agents.store.rundir import RunStore
    from akg_agents.store.saved_settings import saved_settings

    if not (run_dir / "config.yaml").exists():
        from akg_agents.cli.session_store import find_session

        session = find_session(run_dir, load_settings().log_dir)
        if session is not None:
            from akg_agents.cli.session import reopen_session

            reopen_session(session)
            return
        if not run_dir.exists():
            raise ConfigError(f"{run_dir} is neither a run directory nor a session",
                              hint="`akg_cli sessions` lists the sessions; a run directory is printed by `akg_cli op --task`")
    store = RunStore.open(run_dir)
    config = store.config()
    current = load_settings(config.dsl)
    settings = saved_settings(store.root, current) or current  # the run's own tree (LLM included), today's keys
    if config.model == "llm":
        require_llm(settings, f"{run_dir} was made with --model llm and needs the LLM to continue",
                    "configure the provider the run was made with, then resume it again")
    writable_folder(run_dir, "run directory", "resume it as a user who can write there")
    current_run.run_dir = run_dir
    console.print(f"[bold]akg_agents[/] resume {run_dir} ({len(store.results)} result(s) already recorded)")
    with RichReporter(console, progress_after_s=settings.progress_after_s) as reporter:
        reporter.step(f"preparing task '{store.task().name}' again (sandbox, reference outputs)")
        outcome = resume(str(run_dir), settings, reporter)
    raise typer.Exit(show_outcome(outcome))


from akg_agents.cli import session_cmd  # noqa: E402,F401  (registers `akg_cli sessions` on the same app)
