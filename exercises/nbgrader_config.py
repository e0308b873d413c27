"""nbgrader configuration of the Smart City Academy course directory.

Run every nbgrader command from this folder (``cd exercises``). Only this
file and ``source/`` are kept in git; ``release/``, ``submitted/``,
``autograded/``, ``feedback/`` and ``gradebook.db`` are generated.
"""

import os

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, GetGrades, NbGraderPreprocessor

c = get_config()  # noqa: F821 (defined by traitlets when nbgrader reads this file)

# The course directory is the folder of this file, wherever it is copied to.
HERE = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "smart-city-academy"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")

# Markers in the source notebooks (nbgrader spells the option "delimeter").
c.ClearSolutions.begin_solution_delimeter = "### BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "### END SOLUTION"
c.ClearSolutions.code_stub = {"python": 'raise NotImplementedError("Write your answer here")'}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ClearHiddenTests.begin_test_delimeter = "### BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "### END HIDDEN TESTS"


class ErrorMessageOnly(NbGraderPreprocessor):
    """In test cells, keep only the last line of an error ("AssertionError: Q1: ...").

    IPython prints the lines around a failing line, which can be hidden tests.
    """

    def preprocess_cell(self, cell, resources, index):
        if utils.is_grade(cell):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = output.traceback[-1:]
        return cell, resources


# Plain nbgrader copies hidden tests into the feedback HTML (issues #917,
# #1363): remove them from test cells and from the tracebacks of failed tests.
c.GenerateFeedback.preprocessors = [
    GetGrades, ClearHiddenTests, ErrorMessageOnly, CSSHTMLHeaderPreprocessor,
]

# Any cell of a learner's notebook that runs longer than this is stopped.
c.ExecutePreprocessor.timeout = 60
