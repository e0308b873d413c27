"""What must never leave the instructor's side, and how to look for it.

The functions live in :mod:`citylab.cohort.leaks`, where the trainer's commands use them
at run time (``citylab cohort feedback`` refuses to hand out a page that reveals a hidden
test); the tests import them from here so that both check exactly the same thing.
"""

from citylab.cohort.leaks import MARKED, all_secret_lines, found_in, html_text, plain, secret_lines

__all__ = ["MARKED", "all_secret_lines", "found_in", "html_text", "plain", "secret_lines"]
