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
import sys
from pathlib import Path

from lib.book.batch import _environment, kernel_environment
from lib.book.fingerprint import REPO_ROOT
from lib.diagnose.html import write_html
from lib.diagnose.loading import DiagnoseError, as_tensors, check_inputs, load_data, load_model, resolve_loss

CHAPTER = REPO_ROOT / "chapters" / "10_diagnose_your_network.ipynb"


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(prog="python -m lib.diagnose", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="", help="'pkg.module:factory': factory() builds the model the state_dict in "
                   "--weights is loaded into (importable from the current directory or PYTHONPATH)")
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
    p.add_argument("--max-samples", type=int, default=512, help="samples in the loss (0: all)")
    p.add_argument("--max-exact-params", type=int, default=10000,
                   help="largest P diagonalised exactly in float64, memory permitting; SLQ above (0: memory only)")
    p.add_argument("--batch-size", type=int, default=64, help="samples per batch Hessian")
    p.add_argument("--max-batches", type=int, default=4, help="batch Hessians diagonalised")
    p.add_argument("--slq-steps", type=int, default=80, help="Lanczos steps per SLQ probe")
    p.add_argument("--slq-probes", type=int, default=4, help="SLQ probes")
    p.add_argument("--null-replicas", type=int, default=100, help="GOE draws of the calibrated rule")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap replicates of the <r~> interval")
    p.add_argument("--lsq-max-iter", type=int, default=10, help="Nelder-Mead iterations of the law fits (0: moments)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads of the computation")
    p.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    return p


def check(args: argparse.Namespace) -> None:
    """Load and check the inputs as the report will (cheap); raises DiagnoseError with what is wrong."""
    model = load_model(args.weights, args.model or None, trust_pickle=args.trust_pickle)
    x, y = as_tensors(load_data(args.data, args.x_key, args.y_key), args.max_samples or None)
    name, loss_fn = resolve_loss(args.loss)
    inputs = check_inputs(model, loss_fn, x, y)
    print(f"diagnose: {type(model).__name__} with {sum(p.numel() for p in model.parameters()):,} parameters, "
          f"{len(x):,} samples, loss {name} ({inputs.reduction} over samples): inputs check out", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the command; exit status 0 on success, 2 for inputs that cannot be diagnosed, 1 for a failed run."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    args = parser().parse_args(argv)
    try:
        check(args)
    except DiagnoseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    executed = out / "report.ipynb"
    print(f"diagnose: executing {CHAPTER.name} on these inputs ({args.threads} threads)", flush=True)
    try:
        with _environment(env):
            papermill.execute_notebook(str(CHAPTER), str(executed), parameters=parameters, kernel_name="python3",
                                       cwd=os.getcwd(), progress_bar=False, log_output=True,
                                       execution_timeout=args.timeout)
    except PapermillExecutionError as exc:
        print(f"error: the report failed in cell {exc.cell_index}: {exc.ename}: {exc.evalue} (notebook: {executed})",
              file=sys.stderr)
        return 1
    html = write_html(executed, out / "report.html")
    print(f"diagnose: wrote {html} and {out / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
