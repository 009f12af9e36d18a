"""Every workflow the worker runs (the replay tests read the same list)."""

from workflows.scan_batch import ScanBatchWorkflow
from workflows.scan_cycle import ScanCycleWorkflow

WORKFLOWS = [ScanCycleWorkflow, ScanBatchWorkflow]
