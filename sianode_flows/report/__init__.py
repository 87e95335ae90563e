"""The report: the paper's figures and one browsable HTML page from any store."""

from sianode_flows.report.build import Report, ReportOptions, build_report
from sianode_flows.report.data import GenerationData, ReportData, gather

__all__ = [
    "GenerationData",
    "Report",
    "ReportData",
    "ReportOptions",
    "build_report",
    "gather",
]
