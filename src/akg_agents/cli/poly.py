"""``akg_cli poly``: explain a kernel's schedule, benchmark PolyBench under all schedulers.

Importing this module is cheap: islpy and the poly package load inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer

poly_app = typer.Typer(help="PolyTOPS: configurable polyhedral scheduler (explain / bench).",
                       no_args_is_help=True)

SIZES = ("MINI", "SMALL", "MEDIUM", "LARGE", "EXTRALARGE")


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code=2)


def _kernel(name: str):  # type: ignore[no-untyped-def]
    from akg_agents.poly import kernels

    try:
        return kernels.get(name)
    except KeyError:
        _fail(f"unknown kernel {name!r}; known: {', '.join(kernels.names())}")


def _config(preset: str, config: Path | None, kernel: str):  # type: ignore[no-untyped-def]
    from akg_agents.poly.config import ConfigError, load_config, load_overrides
    from akg_agents.poly.config import preset as get_preset

    try:
        if config is not None:
            if not config.exists():
                _fail(f"config file not found: {config}")
            text = config.read_text()
            if "kernels:" in text:  # an overrides file: take this kernel's entry
                table = load_overrides(config)
                if kernel not in table:
                    _fail(f"{config} has no entry for kernel {kernel!r}")
                return table[kernel]
            return load_config(config)
        return get_preset(preset)
    except ConfigError as exc:
        _fail(str(exc))


@poly_app.command()
def explain(kernel: str = typer.Argument(..., help="PolyBench kernel name, e.g. gemm"),
            preset: str = typer.Option("pluto_like", help="isl_like | pluto_like | feautrier_like | cpu_vectorize"),
            config: Path | None = typer.Option(None, help="YAML config (or kernel overrides file)"),
            code: bool = typer.Option(False, help="also print the generated C kernel")) -> None:
    """Print dependences, the schedule chosen per dimension and why, and the post-passes."""
    k = _kernel(kernel)
    cfg = _config(preset, config, kernel)
    from akg_agents.poly.explain import explain as run_explain

    typer.echo(run_explain(k, cfg, "MINI", show_code=code))


@poly_app.command()
def bench(kernels: str = typer.Option("all", help="comma list or 'all'"),
          variants: str = typer.Option("all", help="comma list of orig,isl,polly,pluto,<presets>,override"),
          size: str = typer.Option("MINI", help="MINI | SMALL | MEDIUM | LARGE | EXTRALARGE"),
          threads: str = typer.Option("1,2", help="comma list of thread counts"),
          runs: int = typer.Option(5, help="runs per measurement (middle runs averaged)"),
          out: Path | None = typer.Option(None, help="JSONL results; an existing file is resumed: only what it lacks "
                                          "is measured (default: a new akg_poly_bench/SIZE_TIME/bench.jsonl)"),
          overrides: Path | None = typer.Option(None, help="kernel-specific override YAML"),
          timeout: float = typer.Option(600.0, help="seconds per run before giving up"),
          summary: Path | None = typer.Option(None, help="write a Markdown summary here"),
          select_on: str | None = typer.Option(None, "--select-on", help="first choose a configuration per kernel "
                                               "by measurement at this size (another one than --size), then "
                                               "report it as the 'selected' variant"),
          pluto: Path | None = typer.Option(None, help="Pluto's polycc (or its folder) for the 'pluto' variant; "
                                            "default: $AKG_PLUTO; without either the column is skipped")) -> None:
    """Check and time PolyBench kernels under orig / isl / Polly / presets / overrides."""
    from akg_agents.poly import kernels as kreg
    from akg_agents.poly.bench import DEFAULT_VARIANTS, BenchSpec, default_out, load, run_bench
    from akg_agents.poly.config import ConfigError
    from akg_agents.poly.report import summary as make_summary

    if size not in SIZES:
        _fail(f"unknown size {size!r}; known: {', '.join(SIZES)}")
    names = kreg.names() if kernels == "all" else [x.strip() for x in kernels.split(",") if x.strip()]
    for n in names:
        if n not in kreg.names():
            _fail(f"unknown kernel {n!r}; known: {', '.join(kreg.names())}")
    vs = DEFAULT_VARIANTS if variants == "all" else [x.strip() for x in variants.split(",") if x.strip()]
    for v in vs:
        if v not in DEFAULT_VARIANTS and v != "selected":
            _fail(f"unknown variant {v!r}; known: {', '.join(DEFAULT_VARIANTS)}, selected (with --select-on)")
    if select_on is not None:
        if select_on not in SIZES:
            _fail(f"unknown --select-on size {select_on!r}; known: {', '.join(SIZES)}")
        if select_on == size:
            _fail("--select-on must be another size than --size: a configuration chosen on the reported numbers "
                  "would grade itself")
        vs = [*dict.fromkeys([*vs, "selected"])]
    elif "selected" in vs:
        _fail("the 'selected' variant needs --select-on SIZE")
    try:
        ths = [int(t) for t in threads.split(",")]
    except ValueError:
        _fail(f"bad --threads {threads!r}: expected e.g. 1,2")
    if runs < 1:
        _fail("--runs must be >= 1")
    if overrides is not None and not overrides.exists():
        _fail(f"overrides file not found: {overrides}")
    path = out or default_out(size)
    _check_out(path)
    earlier = load(path)
    if earlier:
        typer.echo(f"resuming {path}: {len(earlier)} result(s) recorded earlier are kept, not measured again; "
                   "only the missing ones are run (pass another --out to measure everything)")
    else:
        typer.echo(f"results: {path}")
    polycc = _polycc(pluto, "pluto" in vs and variants != "all")
    selected = path.parent / "selected.yaml" if select_on is not None else None
    spec = BenchSpec(names, vs, size, ths, runs, path, overrides, timeout, selected, polycc)
    try:
        if selected is not None and select_on is not None:
            from akg_agents.poly.select import select_all

            typer.echo(f"selecting a configuration per kernel at {select_on} ({max(ths)} threads) -> {selected}")
            select_all(names, select_on, max(ths), selected, typer.echo, report_size=size)
        new = run_bench(spec, log=typer.echo)
    except ConfigError as exc:
        _fail(str(exc))
    if earlier:
        typer.echo(f"{len(new)} result(s) measured now, {len(earlier)} from the earlier run of {path}")
    text = make_summary(load(path), size, ths)
    if summary is not None:
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(text)
    typer.echo(text)


def _polycc(given: Path | None, required: bool) -> Path | None:
    """polycc from --pluto or $AKG_PLUTO, checked to run; asked for by name and absent: an error."""
    from akg_agents.poly.pluto import check_polycc, polycc_path

    path = polycc_path(given)
    if path is None:
        if required:
            _fail("the 'pluto' variant needs Pluto: pass --pluto PATH (polycc or its folder) or set AKG_PLUTO")
        return None
    problem = check_polycc(path)
    if problem is not None:
        _fail(problem)
    return path


def _check_out(path: Path) -> None:
    """--out must be a file that can be appended to; one line otherwise (not a traceback mid-bench)."""
    if path.is_dir():
        _fail(f"--out {path} is a folder; pass a .jsonl file name")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                _fail(f"--out {path} cannot be created: {parent} is a file, not a folder")
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a"):
            pass
    except OSError as exc:
        _fail(f"cannot write --out {path}: {exc.strerror or exc}")
    try:
        from akg_agents.poly.bench import load

        load(path)
    except (ValueError, TypeError) as exc:
        _fail(f"--out {path} is not a results file of `akg_cli poly bench` ({str(exc).splitlines()[0][:80]})")


@poly_app.command("list")
def list_kernels() -> None:
    """List the PolyBench kernels and presets."""
    from akg_agents.poly import kernels as kreg
    from akg_agents.poly.config import PRESETS

    typer.echo("kernels: " + ", ".join(kreg.names()))
    typer.echo("presets: " + ", ".join(PRESETS))
