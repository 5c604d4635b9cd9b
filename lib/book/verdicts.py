"""Claim-by-claim verdicts: shown at the end of each chapter, gathered on the book's summary page.

A chapter computes its evidence and ends with::

    show_verdicts([Verdict("P1.1", "Batch-Hessian spacing ratios follow the GOE law", "confirmed",
                           f"<r~> = {m:.4f} [{lo:.4f}, {hi:.4f}] against 0.5307",
                           f"P = {P:,}, M = {M} batches of {b} samples, digits; paper: P = 7,850, MNIST",
                           paper_scale=False)])

which displays a table and attaches the same verdicts as JSON (mime type :data:`MIME`) to the cell's output.
When the book is rendered, :func:`collect` reads them back from every executed chapter and
:func:`summary_page` writes the summary table, so no verdict is ever typed twice or by hand.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

MIME = "application/vnd.rmt-book.verdicts+json"
#: the scale of a verdict recorded before verdicts carried one (old JSON read back by :func:`collect`)
SCALE_NOT_RECORDED = "not recorded"
#: the decision rule of a verdict recorded before verdicts carried one
RULE_NOT_RECORDED = "not recorded"
STATUSES = ("confirmed", "qualified", "contradicted", "reproduced", "open")
_BADGE = {status: f"**{status}**" for status in STATUSES}


@dataclass(frozen=True)
class Verdict:
    """One claim and what the chapter's measurements say about it.

    ``claim_id`` names the claim as the introduction does (``P1.1``, ``P2.3``; ``RMT`` for textbook results),
    ``status`` is one of :data:`STATUSES`, ``evidence`` one sentence with the computed numbers, ``scale`` one
    sentence with the sizes it was measured at (parameters P, samples, batches M, widths, data set, training; the
    paper's own where they differ), ``paper_scale`` whether that is the paper's own scale (``False`` for CPU-sized
    runs and for textbook results, where a paper's scale does not apply) and ``rule`` one sentence with the decision
    rule that set the status: the statistic, its threshold and, for a calibrated rule, the null model it was
    calibrated on with the rule's false-rejection rate and its power against the alternative
    (:meth:`lib.book.verdict_rules.Calibration.describe`). The defaults only keep verdicts recorded before the scale
    and the rule were (:func:`collect`) readable; the claim modules always pass them.
    """

    claim_id: str
    claim: str
    status: str
    evidence: str
    scale: str = SCALE_NOT_RECORDED
    paper_scale: bool = False
    rule: str = RULE_NOT_RECORDED

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"verdict status {self.status!r} is not one of {', '.join(STATUSES)}")
        if not self.claim.strip() or not self.evidence.strip():
            raise ValueError("a verdict needs a claim and the evidence for it")
        if not self.scale.strip():
            raise ValueError("a verdict needs the scale it was measured at")
        if not self.rule.strip():
            raise ValueError("a verdict needs the decision rule that set its status")


def at_scale(verdicts: Sequence[Verdict], scale: str, paper_scale: bool) -> list[Verdict]:
    """``verdicts`` with ``scale`` and ``paper_scale`` set (every verdict of a chapter shares its scale)."""
    return [replace(v, scale=scale, paper_scale=bool(paper_scale)) for v in verdicts]


def number(x: float) -> str:
    """An integer with thousands separators (``7,850``); other numbers as ``:g``."""
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def number_range(values: Sequence[float]) -> str:
    """``"500-1,600"`` for several values, ``"650"`` when they are all equal."""
    lo, hi = min(values), max(values)
    return number(lo) if lo == hi else f"{number(lo)}-{number(hi)}"


def scale_label(v: Verdict) -> str:
    """The scale as shown in a table: the sentence, marked when it is the paper's own scale."""
    return f"{v.scale} (the paper's scale)" if v.paper_scale else v.scale


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def verdict_table(verdicts: Sequence[Verdict], chapter_link: str | None = None) -> str:
    """The verdicts as a Markdown table (with a chapter column linking to ``chapter_link`` when given)."""
    head = "| ID | claim | verdict | evidence | rule | scale |\n|---|---|---|---|---|---|\n"
    rows = [
        f"| {_escape(v.claim_id)} | {_escape(v.claim)} | {_BADGE[v.status]} | {_escape(v.evidence)} "
        f"| {_escape(v.rule)} | {_escape(scale_label(v))} |"
        for v in verdicts
    ]
    if chapter_link:
        head = "| chapter | ID | claim | verdict | evidence | rule | scale |\n|---|---|---|---|---|---|---|\n"
        rows = [f"| {chapter_link} {row}" for row in rows]
    return head + "\n".join(rows) + "\n"


#: a recorded column of a verdict table: its header ("paper profile, recorded <date> on <machine>", marked stale when
#: the code has changed since) and, per live verdict, the recorded verdict of the same claim or None
RecordedColumn = tuple[str, Sequence["Verdict | None"]]


def _recorded_cell(v: Verdict | None) -> str:
    if v is None:
        return '<td class="verdict-recorded">not in the record</td>'
    return (f'<td class="verdict-recorded"><span class="verdict verdict-{v.status}">{v.status}</span> '
            f"{html.escape(v.evidence)}"
            f'<div class="verdict-scale{" verdict-paper-scale" if v.paper_scale else ""}">Scale: '
            f"{html.escape(scale_label(v))}</div></td>")


def verdict_html(verdicts: Sequence[Verdict], recorded: Sequence[RecordedColumn] = ()) -> str:
    """The verdicts as an HTML table (class ``verdict-table``, a badge per status styled by
    ``_static/verdicts.css``): what a chapter page shows, since myst-nb renders Markdown outputs without tables.
    The decision rule and the scale are lines under the evidence (classes ``verdict-rule`` and ``verdict-scale``,
    plus ``verdict-paper-scale`` at the paper's own scale). Each ``recorded`` column (a run recorded at another
    scale, :mod:`lib.book.records`) adds the recorded verdict of the same claim beside the live one."""
    for _, column in recorded:
        if len(column) != len(verdicts):
            raise ValueError(f"a recorded column has {len(column)} rows for {len(verdicts)} verdicts")
    rows = "".join(
        f'<tr><td class="verdict-id">{html.escape(v.claim_id)}</td><td>{html.escape(v.claim)}</td>'
        f'<td><span class="verdict verdict-{v.status}">{v.status}</span></td><td>{html.escape(v.evidence)}'
        f'<div class="verdict-rule">Rule: {html.escape(v.rule)}</div>'
        f'<div class="verdict-scale{" verdict-paper-scale" if v.paper_scale else ""}">Scale: '
        f"{html.escape(scale_label(v))}</div></td>"
        + "".join(_recorded_cell(column[i]) for _, column in recorded) + "</tr>"
        for i, v in enumerate(verdicts)
    )
    extra = "".join(f"<th>{html.escape(label)}</th>" for label, _ in recorded)
    return ('<table class="verdict-table"><thead><tr><th>ID</th><th>claim</th><th>verdict</th><th>evidence</th>'
            f"{extra}</tr></thead><tbody>{rows}</tbody></table>")


def show_verdicts(verdicts: Sequence[Verdict]) -> None:
    """Display the verdicts in a notebook as a table (HTML, with a Markdown fallback), with their JSON attached
    for the summary page."""
    from IPython.display import display

    if not verdicts:
        raise ValueError("show_verdicts needs at least one verdict")
    bundle = {"text/html": verdict_html(verdicts), "text/markdown": verdict_table(verdicts),
              MIME: [asdict(v) for v in verdicts]}
    display(bundle, raw=True)


def collect(notebook: dict[str, Any]) -> list[Verdict]:
    """Every verdict displayed in an executed notebook (a parsed ``.ipynb`` as a dict), in order."""
    found: list[Verdict] = []
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            for item in output.get("data", {}).get(MIME, []):
                found.append(Verdict(**item))
    return found


def _paper(claim_id: str) -> str:
    """The source a claim belongs to, from its identifier: paper 1 (P1.*), paper 2 (P2.*) or textbook results."""
    return {"P1": "Paper 1 (Baskerville, Granziol & Keating)", "P2": "Paper 2 (Granziol)"}.get(
        claim_id.split(".")[0], "Random-matrix theory and the engine")


def status_counts(verdicts: Sequence[Verdict]) -> str:
    """"3 confirmed, 1 qualified, ..." in the order of :data:`STATUSES`."""
    counts = Counter(v.status for v in verdicts)
    return ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])


def summary_page(chapters: Sequence[tuple[str, str, Sequence[Verdict]]],
                 recorded: Mapping[str, Sequence[RecordedColumn]] | None = None, records_section: str = "") -> str:
    """Markdown of the summary page from ``(docname, title, verdicts)`` per chapter, in book order: a summary per
    source (counts by status, the chapters that test it), then every verdict.

    ``recorded`` (docname -> recorded columns, as for :func:`verdict_html`) adds to the summary the verdicts of
    runs recorded at the papers' scale, and to every row the recorded status of its claim;
    ``records_section`` (Markdown: the list of recorded runs with their provenance) goes after the summary."""
    recorded = recorded or {}
    lines = [
        "# Verdicts at a glance",
        "",
        "Each row is filled from the verdict table at the end of a chapter, as computed when the chapter was",
        "executed for this build; follow the link for the figures and the numbers behind it. Claim identifiers",
        "refer to the list of claims in the introduction (P1 = paper 1, P2 = paper 2, RMT = textbook results).",
        "",
    ]
    if not any(verdicts for _, _, verdicts in chapters):
        lines.append("No chapter has recorded a verdict yet.")
        return "\n".join(lines) + "\n"
    by_paper: dict[str, list[Verdict]] = {}
    recorded_by_paper: dict[str, list[Verdict]] = {}
    where: dict[str, list[str]] = {}
    for docname, title, verdicts in chapters:
        for _, column in recorded.get(docname, [])[:1]:
            for r in column:
                if r is not None:
                    recorded_by_paper.setdefault(_paper(r.claim_id), []).append(r)
        for v in verdicts:
            by_paper.setdefault(_paper(v.claim_id), []).append(v)
            link = f"{{doc}}`{_escape(title)} </{docname}>`"
            if link not in where.setdefault(_paper(v.claim_id), []):
                where[_paper(v.claim_id)].append(link)
    lines += ["## Summary", "",
              "Claims are counted once per verdict row; \"tested at the papers' scale\" counts the verdicts measured",
              "at the paper's own sizes, \"only at CPU scale\" those measured at reduced sizes (and textbook results,",
              "to which a paper's scale does not apply). The scale of every verdict is in its row below.", "",
              "| source | claims | verdicts | tested at the papers' scale | only at CPU scale | chapters |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {paper} | {len(vs)} | {status_counts(vs)} | {sum(v.paper_scale for v in vs)} "
              f"| {sum(not v.paper_scale for v in vs)} | {', '.join(where[paper])} |"
              for paper, vs in by_paper.items()]
    if recorded_by_paper:
        lines += ["", "Recorded runs (listed below) at larger scale, counted the same way:", "",
                  "| source | recorded verdicts | at the papers' scale |", "|---|---|---|"]
        lines += [f"| {paper} | {status_counts(vs)} | {sum(v.paper_scale for v in vs)} of {len(vs)} |"
                  for paper, vs in recorded_by_paper.items()]
    if records_section:
        lines += ["", records_section.strip()]
    lines += ["", "## Every verdict", ""]
    rows: list[str] = []
    header: list[str] = []
    for docname, title, verdicts in chapters:
        link = f"{{doc}}`{_escape(title)} </{docname}>`"
        table = verdict_table(verdicts, link).splitlines()
        columns = recorded.get(docname, [])
        if recorded:
            cells = [f"{r.status} ({_escape(columns[0][0])})" if columns and (r := columns[0][1][i]) else "-"
                     for i in range(len(verdicts))]
            table = [table[0] + " recorded run |", table[1] + "---|",
                     *(row + f" {cell} |" for row, cell in zip(table[2:], cells, strict=True))]
        rows.extend(table[2:])
        header = table[:2]
    return "\n".join([*lines, *header, *rows]) + "\n"
