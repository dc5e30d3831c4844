"""CloudEvents entrypoints, one per pipeline step (functions-framework targets)."""
