"""The core commands: op, verify, resume."""

from __future__ import annotations

from pathlib import Path

import typer

from akg_agents.cli.app import app, console, default_arch, parse_devices
from akg_agents.cli.render import RichReporter, results_table
from akg_agents.config.settings import Settings, load_settings, validate_target
from akg_agents.errors import ConfigError
from akg_agents.records import EvalResult, RunConfig
from akg_agents.store.summary import summary_rows
from akg_agents.tasks.loader import load_task
from akg_agents.workflows.runner import RunOutcome, execute, resume

TARGET_HELP = "Valid combinations: cpu/x86_64|aarch64/cpp, cuda/h100|h200|a100|l40s|rtx4090/triton_cuda|cuda_c|tilelang_cuda."


PRECISIONS = ("fp32", "fp16", "bf16")
PRECISION_HELP = "KernelBench's precision option: fp32, fp16 or bf16 (floating inputs and weights cast to it; tolerances by dtype)."
TF32_HELP = "Accept TF32 matrix math for fp32 tasks (looser fp32 tolerance); off: fp32 means fp32."

def build_config(
    settings: Settings, framework: str, backend: str, arch: str, dsl: str, workflow: str | None, model: str | None,
    devices: str, baseline: str, max_candidates: int, threads: int | None, scale_budget_ms: float | None,
    precision: str = "fp32", allow_tf32: bool = False,
) -> RunConfig:
    validate_target(framework, backend, arch, dsl)
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)} (got '{precision}')")
    if baseline not in ("eager", "compile"):
        raise ConfigError(f"--baseline must be eager or compile (got '{baseline}')")
    if max_candidates < 1:
        raise ConfigError("--max-candidates must be at least 1")
    chosen_model = model or ("llm" if settings.llm.provider else "builtin")
    return RunConfig(
        framework=framework, backend=backend, arch=arch, dsl=dsl,
        workflow=workflow or settings.default_workflow, model=chosen_model, devices=parse_devices(devices),
        baseline=baseline, max_candidates=max_candidates, verify_timeout_s=settings.verify_timeout,
        warmup_times=settings.profile_settings.warmup_times, run_times=settings.profile_settings.run_times,
        seeds=list(settings.seeds), threads=settings.threads if threads is None else threads,
        memory_limit_mb=settings.memory_limit_mb, scale_budget_ms=scale_budget_ms,
        precision=precision, allow_tf32=allow_tf32, agent_models=dict(settings.agent_model_config),
    )


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


@app.command()
def op(
    task: Path = typer.Option(None, "--task", "-t", help="KernelBench-format task file (Model, get_inputs, get_init_inputs)."),
    request: str = typer.Option(None, "--request", help="Instead of --task: describe the op in words; the configured LLM writes and validates the task."),
    framework: str = typer.Option("torch", help="Framework of the reference model."),
    backend: str = typer.Option("cpu", help="Where kernels run: cpu, cuda or ascend. " + TARGET_HELP),
    arch: str = typer.Option("", help="Target architecture (default: this machine's for cpu, h100 for cuda)."),
    dsl: str = typer.Option("cpp", help="Kernel language: cpp, triton_cuda, cuda_c, tilelang_cuda."),
    workflow: str = typer.Option(None, help="default | kernelgen_only | verifier_only | coder_only | evolve | adaptive_search (default: from the DSL's settings)."),
    model: str = typer.Option(None, help="'builtin' (no LLM; the default when none is configured) or 'llm' (the configured provider)."),
    devices: str = typer.Option("0", help="Comma-separated device ids to evaluate on, e.g. 0,1."),
    output: Path = typer.Option(None, "--output", "-o", help="Folder for run directories (default: log_dir setting, ./akg_runs)."),
    max_candidates: int = typer.Option(4, help="How many candidates to generate and evaluate."),
    baseline: str = typer.Option("eager", help="Baselines to time against: eager, or compile (eager and torch.compile)."),
    threads: int = typer.Option(None, help="CPU threads for kernels and eager PyTorch (default: all cores)."),
    scale_budget_ms: float = typer.Option(None, help="Shrink the task's size constants until eager runs within this many ms."),
    precision: str = typer.Option("fp32", help=PRECISION_HELP),
    allow_tf32: bool = typer.Option(False, "--allow-tf32", help=TF32_HELP),
    kernel: Path = typer.Option(None, help="Existing kernel file (for --workflow verifier_only)."),
) -> None:
    """Generate a kernel for TASK, verify it against PyTorch on several seeds, and profile it.

    Example (CPU, built-in generator, no API key):

        akg_cli op --framework torch --backend cpu --arch x86_64 --dsl cpp --task examples/tasks/relu.py
    """
    overrides = {"log_dir": str(output)} if output else {}
    settings = load_settings(dsl, overrides)
    config = build_config(settings, framework, backend, arch or default_arch(backend), dsl, workflow, model, devices,
                          baseline, max_candidates, threads, scale_budget_ms, precision, allow_tf32)
    if (task is None) == (request is None):
        raise ConfigError("give exactly one of --task FILE or --request TEXT")
    if request is not None:
        from akg_agents.agents.task_constructor import task_from_request

        loaded, written = task_from_request(request, settings, config)
        console.print(f"constructed task {written}:\n", loaded.source, markup=False, highlight=False)
    else:
        loaded = load_task(task)
    console.print(f"[bold]akg_agents[/] op: task [bold]{loaded.name}[/] on {backend}/{config.arch}, dsl {dsl}, "
                  f"workflow {config.workflow}, model {config.model}")
    outcome = execute(loaded, config, settings, RichReporter(console), kernel_path=str(kernel) if kernel else None)
    raise typer.Exit(show_outcome(outcome))


@app.command()
def verify(
    kernel: Path = typer.Argument(..., help="Candidate file defining ModelNew."),
    task: Path = typer.Option(..., "--task", "-t", help="The task the kernel claims to implement."),
    backend: str = typer.Option("cpu", help="cpu or cuda."),
    arch: str = typer.Option("", help="Target architecture (default: this machine's for cpu, h100 for cuda)."),
    dsl: str = typer.Option("cpp", help="The kernel's language."),
    output: Path = typer.Option(None, "--output", "-o", help="Folder for the run directory."),
    threads: int = typer.Option(None, help="CPU threads (default: all cores)."),
    baseline: str = typer.Option("eager", help="eager or compile."),
) -> None:
    """Check existing code: static rules, outputs vs PyTorch on several seeds, then timing.

    Exit code 0 when the kernel passes, 1 when it does not (the reason is printed), 2 for bad input.
    """
    overrides = {"log_dir": str(output)} if output else {}
    settings = load_settings(dsl, overrides)
    config = build_config(settings, "torch", backend, arch or default_arch(backend), dsl, "verifier_only", "builtin",
                          "0", baseline, 1, threads, None)
    loaded = load_task(task)
    outcome = execute(loaded, config, settings, RichReporter(console), kernel_path=str(kernel))
    for _candidate, result in outcome.store.results.values():
        if not result.ok:
            console.print(result.feedback())
    raise typer.Exit(show_outcome(outcome))


@app.command("resume")
def resume_command(
    run_dir: Path = typer.Argument(..., help="A run directory printed by an earlier `akg_cli op`."),
) -> None:
    """Continue a run that was interrupted, without redoing work already verified."""
    from akg_agents.store.rundir import RunStore

    store = RunStore.open(run_dir)
    settings = load_settings(store.config().dsl)
    console.print(f"[bold]akg_agents[/] resume {run_dir} ({len(store.results)} result(s) already recorded)")
    outcome = resume(str(run_dir), settings, RichReporter(console))
    raise typer.Exit(show_outcome(outcome))
