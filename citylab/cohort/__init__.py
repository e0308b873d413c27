"""The trainer's tool: run a cohort from roster to grades with a few commands.

``citylab cohort --help`` lists the steps. Each step lives in its own module
(create, roster, release, collect, grade, feedback, peer, report); they
share :mod:`citylab.cohort.course`, which knows the layout of a cohort
folder and runs nbgrader in it.
"""
