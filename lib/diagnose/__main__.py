"""``python -m lib.diagnose``: diagnose a model saved with ``torch.save`` and write an HTML report and a JSON summary.

    python -m lib.diagnose --model mypkg.nets:build --weights model.pt --data data.npz --loss cross_entropy \\
        --out report/

The model, weights, data and loss are loaded and checked first (clear errors, exit status 2, before any heavy work);
then chapter 10 of the book ("Diagnose your own network") is executed on them with papermill, its cell outputs
echoed as progress, and written as ``report.ipynb``, ``report.html`` (stand-alone, :mod:`lib.diagnose.html`) and
``report.json`` (:meth:`lib.diagnose.report.Report.summary`).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
import warnings
from pathlib import Path

# only the standard library above: the cheap checks of precheck run (and fail) before torch and papermill load
CHAPTER = Path(__file__).resolve().parents[2] / "chapters" / "10_diagnose_your_network.ipynb"
_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_LOSSES = ("cross_entropy", "mse")


class _Defaults(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: ...)" where there is a default to show and the help does not state it already."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default == "" \
                or "default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(prog="python -m lib.diagnose", description=__doc__.split("\n\n")[0],
                                formatter_class=_Defaults)
    env_threads = os.environ.get("RMT_THREADS") or os.environ.get("OMP_NUM_THREADS")
    p.add_argument("--model", default="", help="'pkg.module:factory': factory() builds the model the state_dict in "
                   "--weights is loaded into (importable from the current directory or PYTHONPATH; not needed, and "
                   "ignored, when --weights holds a whole module)")
    p.add_argument("--weights", required=True, help="file written by torch.save: a state_dict, or a whole module "
                   "with --trust-pickle")
    p.add_argument("--trust-pickle", action="store_true", help="allow --weights to be a whole pickled module "
                   "(torch.load(weights_only=False) runs code from the file: only for files you trust)")
    p.add_argument("--data", required=True, help=".npz file with the inputs and the targets")
    p.add_argument("--x-key", default="x", help="name of the inputs array in --data")
    p.add_argument("--y-key", default="y", help="name of the targets array in --data")
    p.add_argument("--loss", default="cross_entropy", help="cross_entropy, mse, or 'pkg.module:function' "
                   "(loss(outputs, targets), a mean or a sum over samples)")
    p.add_argument("--out", required=True, help="folder for report.html, report.json and report.ipynb")
    p.add_argument("--max-samples", type=int, default=512, help="samples in the loss, a random subset of --data "
                   "drawn with --seed when it has more (0: all)")
    p.add_argument("--max-exact-params", type=int, default=10000,
                   help="largest P diagonalised exactly in float64, memory permitting; SLQ above (0: memory only)")
    p.add_argument("--batch-size", type=int, default=64, help="samples per batch Hessian")
    p.add_argument("--max-batches", type=int, default=4, help="batch Hessians diagonalised")
    p.add_argument("--slq-steps", type=int, default=80, help="Lanczos steps per SLQ probe")
    p.add_argument("--slq-probes", type=int, default=4, help="SLQ probes")
    p.add_argument("--null-replicas", type=int, default=100, help="GOE draws of the calibrated rule")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap replicates of the <r~> interval")
    p.add_argument("--lsq-max-iter", type=int, default=20, help="Nelder-Mead iterations of the law fits (0: moments)")
    p.add_argument("--seed", type=int, default=0, help="seeds the bootstraps, the GOE draws of the calibrated "
                   "rule and the Lanczos probes")
    p.add_argument("--threads", type=int, default=int(env_threads or os.cpu_count() or 1),
                   help="threads of the computation (default: RMT_THREADS or OMP_NUM_THREADS when set, else the "
                   "number of cores)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds allowed for each step of the report (a cell "
                   "of the executed notebook)")
    p.add_argument("-v", "--verbose", action="store_true", help="full error details and the notebook's own log")
    return p


def precheck(args: argparse.Namespace) -> list[str]:
    """The checks that need no import of torch (fast errors): files exist, the --model and --loss specifications
    parse. Raises SystemExit-free ``ValueError`` with what is wrong; returns warnings (D1 impossible)."""
    for name in ("weights", "data"):
        if not Path(getattr(args, name)).is_file():
            raise ValueError(f"{name} file {getattr(args, name)!r} does not exist")
    if args.model and (not _SPEC.match(args.model) or ".py:" in args.model):
        hint = args.model.replace(".py:", ":") if ".py:" in args.model else ""
        raise ValueError(f"--model {args.model!r} is not 'pkg.module:factory'"
                         + (f" (did you mean {hint!r}?)" if hint and _SPEC.match(hint) else ""))
    if args.loss not in _LOSSES and ":" in args.loss and not _SPEC.match(args.loss):
        raise ValueError(f"--loss {args.loss!r} is neither {' nor '.join(_LOSSES)} nor 'pkg.module:function'")
    warn = []
    if 0 < args.max_samples < 2 * args.batch_size:
        warn.append(f"--max-samples {args.max_samples} is fewer than 2 batches of --batch-size {args.batch_size}: "
                    "the batch Hessians' local statistics (D1) cannot be computed")
    return warn


def check(args: argparse.Namespace) -> None:
    """Load and check the inputs as the report will (cheap); raises DiagnoseError with what is wrong."""
    from lib.diagnose.loading import as_tensors, check_inputs, load_data, load_model, resolve_loss

    name, loss_fn = resolve_loss(args.loss)
    model = load_model(args.weights, args.model or None, trust_pickle=args.trust_pickle)
    x, y = as_tensors(load_data(args.data, args.x_key, args.y_key), args.max_samples or None, args.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # e.g. mse broadcasting class labels: check_inputs says why
        inputs = check_inputs(model, loss_fn, x, y)
    print(f"diagnose: [1/3] inputs check out: {type(model).__name__} with "
          f"{sum(p.numel() for p in model.parameters()):,} parameters, {len(x):,} samples, loss {name} "
          f"({inputs.reduction} over samples)", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the command; exit status 0 on success, 2 for inputs that cannot be diagnosed, 1 for a failed run."""
    args = parser().parse_args(argv)
    try:
        for line in precheck(args):
            print(f"warning: {line}", file=sys.stderr)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from lib.diagnose.loading import DiagnoseError

    try:
        check(args)
    except DiagnoseError as exc:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
        print(f"error: {text if args.verbose else text.splitlines()[0]}", file=sys.stderr)
        if not args.verbose and "\n" in text:
            print("(details with -v)", file=sys.stderr)
        return 2
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from lib.book.batch import environment_set, kernel_environment
    from lib.diagnose.html import write_html

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    parameters = {"model": args.model, "weights": str(Path(args.weights).resolve()),
                  "data": str(Path(args.data).resolve()), "loss": args.loss, "trust_pickle": args.trust_pickle,
                  "x_key": args.x_key, "y_key": args.y_key, "max_samples": args.max_samples,
                  "max_exact_params": args.max_exact_params, "batch_size": args.batch_size,
                  "max_batches": args.max_batches, "slq_steps": args.slq_steps, "slq_probes": args.slq_probes,
                  "null_replicas": args.null_replicas, "n_boot": args.n_boot, "lsq_max_iter": args.lsq_max_iter,
                  "seed": args.seed, "report_json": str(out / "report.json")}
    env = kernel_environment(args.threads)
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), env["PYTHONPATH"]])  # the user's --model module
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    executed = out / "report.ipynb"
    print(f"diagnose: [2/3] computing the report ({args.threads} threads; minutes for P in the thousands)",
          flush=True)
    start = time.perf_counter()
    try:
        with environment_set(env):
            papermill.execute_notebook(str(CHAPTER), str(executed), parameters=parameters, kernel_name="python3",
                                       cwd=os.getcwd(), progress_bar=False, log_output=args.verbose,
                                       execution_timeout=args.timeout)
    except PapermillExecutionError as exc:
        print(f"error: the report failed in cell {exc.cell_index}: {exc.ename}: {exc.evalue} (notebook: {executed})",
              file=sys.stderr)
        return 1
    html = write_html(executed, out / "report.html")
    print(f"diagnose: [3/3] wrote {html} and {out / 'report.json'} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
