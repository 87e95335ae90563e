"""The report: the paper's figures and one browsable HTML page from any store."""

from sianode_flows.report.build import Report, ReportOptions, build_report
from sianode_flows.report.data import GenerationResults, ReportData, gather

__all__ = [
    "GenerationResults",
    "Report",
    "ReportData",
    "ReportOptions",
    "build_report",
    "gather",
]
