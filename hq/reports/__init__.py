"""Evaluation reports (GB/T 39735 indicators) for any period and scope, with exports."""
