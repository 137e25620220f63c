"""`gankit report DIR`: one self-contained ``report.html`` (images embedded, opens from file://)
for a sweep folder or a single run: the experiment's question and what the documents report, the
seeds and variants tables, then the sections the sweep file names (``sections.SECTIONS``).

The sections are data (``report_data.Section``); the page is ``templates/report.html.j2``,
rendered by Jinja2 with autoescaping on, so that a variant name, a sweep's ``about`` text or a
data set's class name is always text on the page, never markup."""
from __future__ import annotations

import time
from pathlib import Path

from gankit._version import __version__
from gankit.atomic import atomic_write_text
from gankit.experiments.report_data import Report, read_report
from gankit.experiments.sections import SECTIONS, seed_table, variants_table
from gankit.run_dir import SweepDir


def render_page(report: Report) -> str:
    """The HTML page of ``report``: its tables and named sections, those with something to show."""
    import jinja2  # here: the template engine is needed only when a page is written

    env = jinja2.Environment(loader=jinja2.PackageLoader("gankit.experiments", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    built = [seed_table(report), variants_table(report), *(SECTIONS[name](report) for name in report.sections)]
    return env.get_template("report.html.j2").render(report=report, sections=[s for s in built if s is not None],
                                                     version=__version__, written=time.strftime("%Y-%m-%d %H:%M"))


def write_report(directory: str | Path) -> Path:
    """Write ``DIR/report.html`` and return its path."""
    directory = Path(directory)
    report = read_report(directory, [name for name in SECTIONS.names() if name != "reconstructions"])
    path = SweepDir(directory).report
    atomic_write_text(render_page(report), path)
    return path
