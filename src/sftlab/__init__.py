"""sftlab: post-training language models beyond plain SFT.

The public API lives in the sub-packages (``sftlab.data``, ``sftlab.objectives``,
``sftlab.trainers``, ``sftlab.generation``, ``sftlab.verify``,
``sftlab.evaluation``, ``sftlab.lab``, ``sftlab.report``); the command line is
``sftlab <command>`` (``sftlab --help``).
"""

__version__ = "0.1.0"
