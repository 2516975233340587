"""The eval report: ``results.json`` and a self-contained ``index.html`` people can look at.

The HTML page opens with what produced the numbers (a plumbing check, a solvability check or a
model score, and the cassettes' provenance), then a summary per configuration, a task-by-config
grid, and per task the prompt, every step's tool calls with their results and a screenshot, the
final answer and what the check found. Screenshots are files next to the page (``shots/``).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from evals.results import EvalRun, TaskResult

__all__ = ["REPORT_NAME", "RESULTS_NAME", "render_html", "write_report"]

RESULTS_NAME = "results.json"
REPORT_NAME = "index.html"

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; max-width: 78rem; }
h1 { margin-bottom: .2rem; } .muted { color: #666; }
.label { border-left: 5px solid #c80; background: #fff6e0; padding: .5rem .8rem; margin: .4rem 0; }
.label.score { border-color: #27a; background: #eaf3fb; }
table { border-collapse: collapse; margin: .6rem 0; }
th, td { border: 1px solid #ccd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f1f2f6; }
.pass { color: #17803d; font-weight: 600; } .fail { color: #b3261e; font-weight: 600; }
details.task { border: 1px solid #ccd; border-radius: 6px; margin: .6rem 0; padding: .3rem .8rem; }
details.task > summary { cursor: pointer; font-size: 1.05rem; padding: .3rem 0; }
.run { border-top: 1px dashed #ccd; margin-top: .6rem; padding-top: .4rem; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0; font-size: .82rem;
      max-height: 14rem; overflow: auto; background: #f8f8fa; padding: .3rem; }
pre.error { background: #fdeceb; }
img.shot { width: 260px; border: 1px solid #aab; }
code { font-size: .85rem; }
"""


def write_report(run: EvalRun, directory: Path) -> tuple[Path, Path]:
    """Write ``results.json`` and ``index.html`` into ``directory``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    results = directory / RESULTS_NAME
    run.save(results)
    page = directory / REPORT_NAME
    page.write_text(render_html(run), encoding="utf-8")
    return results, page


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_html(run: EvalRun, title: str = "Eval report") -> str:
    """The whole report as one HTML page."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1><p class='muted'>created {_e(run.created)}</p>",
    ]
    for config in run.configs:
        kind = "score" if config.label.startswith("Model score") else ""
        provenance = "".join(f"<br><small>cassette: {_e(p)}</small>" for p in config.provenance)
        parts.append(
            f"<div class='label {kind}'><b>{_e(config.name)}</b>: {_e(config.label)}"
            f"{provenance}</div>"
        )
    parts.append(_summary_table(run))
    parts.append(_grid(run))
    tasks: dict[str, list[TaskResult]] = {}
    for result in run.results:
        tasks.setdefault(result.task_id, []).append(result)
    for task_id, results in tasks.items():
        parts.append(_task_section(task_id, results))
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary_table(run: EvalRun) -> str:
    rows = [
        "<h2>Summary</h2><table><tr><th>configuration</th><th>passed</th><th>success</th>"
        "<th>mean steps</th><th>input tokens</th><th>output tokens</th>"
        "<th>mean snapshot tokens</th><th>elapsed</th><th>task time (sum, median)</th>"
        "<th>stop reasons</th></tr>"
    ]
    for s in run.summaries():
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(s.stop_reasons.items()))
        rows.append(
            f"<tr><td>{_e(s.config)}</td><td>{s.passed}/{s.tasks}</td>"
            f"<td>{s.success_rate:.0%}</td><td>{s.mean_steps:.1f}</td><td>{s.input_tokens:,}</td>"
            f"<td>{s.output_tokens:,}</td><td>{s.mean_snapshot_tokens:.0f}</td>"
            f"<td>{s.elapsed_s:.1f} s</td><td>{s.wall_s:.1f} s ({s.median_wall_s:.1f} s)</td>"
            f"<td>{_e(reasons)}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _grid(run: EvalRun) -> str:
    names = [c.name for c in run.configs]
    by_key = {(r.task_id, r.config): r for r in run.results}
    task_ids = list(dict.fromkeys(r.task_id for r in run.results))
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    rows = [f"<h2>Tasks</h2><table><tr><th>task</th>{head}</tr>"]
    for task_id in task_ids:
        cells = []
        for name in names:
            result = by_key.get((task_id, name))
            if result is None:
                cells.append("<td></td>")
                continue
            mark = (
                "<span class='pass'>pass</span>"
                if result.success
                else "<span class='fail'>FAIL</span>"
            )
            cells.append(f"<td>{mark} · {len(result.steps)} steps · {result.wall_s:.1f} s</td>")
        rows.append(
            f"<tr><td><a href='#task-{_e(task_id)}'>{_e(task_id)}</a></td>{''.join(cells)}</tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _task_section(task_id: str, results: list[TaskResult]) -> str:
    first = results[0]
    failed = not all(r.success for r in results)
    marks = " ".join(
        "<span class='pass'>pass</span>" if r.success else "<span class='fail'>FAIL</span>"
        for r in results
    )
    parts = [
        f"<details class='task' id='task-{_e(task_id)}'{' open' if failed else ''}>",
        f"<summary><b>{_e(task_id)}</b> {marks}</summary>",
        f"<p><b>Prompt:</b> {_e(first.prompt)}</p>",
        f"<p class='muted'>start: <code>{_e(first.start_url)}</code> · "
        f"tags: {_e(', '.join(first.tags))}</p>",
    ]
    for result in results:
        parts.append(_run_block(result))
    parts.append("</details>")
    return "\n".join(parts)


def _run_block(result: TaskResult) -> str:
    verdict = (
        "<span class='pass'>passed</span>" if result.success else "<span class='fail'>failed</span>"
    )
    estimated = " (counted with tiktoken)" if result.tokens_estimated else ""
    parts = [
        f"<div class='run'><h3>{_e(result.config)}: {verdict}</h3>",
        f"<p><b>Check:</b> {_e(result.check)} · "
        f"stop reason <code>{_e(result.stop_reason)}</code> · "
        f"{len(result.steps)} steps · {result.input_tokens:,} input / {result.output_tokens:,} "
        f"output tokens{estimated} · {result.wall_s:.1f} s</p>",
    ]
    if result.provenance:
        parts.append(f"<p class='muted'>cassette: {_e(result.provenance)}</p>")
    needs = result.extra.get("needs")
    if needs:
        parts.append(
            f"<p class='muted'>needs beyond a plain aria snapshot: {_e(', '.join(needs))}</p>"
        )
    if result.error:
        parts.append(f"<pre class='error'>{_e(result.error)}</pre>")
    if result.steps:
        parts.append(
            "<table><tr><th>step</th><th>page</th><th>tool calls</th><th>results</th>"
            "<th>snapshot / in / out tokens</th><th>screenshot after</th></tr>"
        )
        for step in result.steps:
            calls = (
                "".join(
                    f"<pre>{_e(c.name)}({_e(json.dumps(c.arguments, ensure_ascii=False))})</pre>"
                    for c in step.calls
                )
                or f"<pre>{_e(step.text or '(no call)')}</pre>"
            )
            outputs = "".join(
                f"<pre class='{'error' if c.is_error else ''}'>{_e(c.result)}</pre>"
                for c in step.calls
            )
            shot = (
                f"<a href='{_e(step.screenshot)}'><img class='shot' loading='lazy' "
                f"src='{_e(step.screenshot)}' alt='after step {step.number}'></a>"
                if step.screenshot
                else ""
            )
            parts.append(
                f"<tr><td>{step.number}</td><td><code>{_e(step.url)}</code></td><td>{calls}</td>"
                f"<td>{outputs}</td><td>{step.snapshot_tokens} / {step.input_tokens} / "
                f"{step.output_tokens}</td><td>{shot}</td></tr>"
            )
        parts.append("</table>")
    answer = result.answer if result.answer is not None else "(no answer)"
    parts.append(f"<p><b>Final answer:</b> {_e(answer)}</p>")
    if result.final_screenshot:
        parts.append(
            f"<p>Final page:<br><img class='shot' src='{_e(result.final_screenshot)}' "
            "alt='final page'></p>"
        )
    parts.append("</div>")
    return "\n".join(parts)
