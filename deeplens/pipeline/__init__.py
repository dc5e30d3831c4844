"""The pipeline steps (ingest, keyframes, features, match, evidence) as plain functions.

Each step takes a CloudEvent and the shared :class:`~deeplens.pipeline.services.Services`
and returns the events it emits. The CloudEvents entrypoints in ``functions/`` and the
in-process broker both call them through :class:`~deeplens.pipeline.runner.StepRunner`.
"""
