"""Submissions for the grading tests and benchmark: honest ones of every kind, and hostile ones.

``submissions`` makes what honest learners hand in (correct, partly correct, blank…);
``cases`` makes the hostile-submission suite, each case with the outcome it must get.
"""
