"""The ``deeplens`` command: one module per verb, composed in :mod:`deeplens.cli.main`."""
