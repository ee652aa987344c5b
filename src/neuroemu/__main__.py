"""``python -m neuroemu`` is the ``neuroemu`` command."""

from neuroemu.cli import entry_point

entry_point()
