"""What each rekflow command does, below the command line that parses its arguments (rekflow/cli/).

A module here may use the local runtime, the vision backends and the media helpers; it never imports
rekflow.cli, so a change to how a command is parsed cannot break another command's work.
"""

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2  # every command's exit statuses: done, a file FAILED, bad arguments
REPORT_PAGE_NAME = "report.html"  # the page `rekflow report` writes in the results folder (here: parsing needs it)
