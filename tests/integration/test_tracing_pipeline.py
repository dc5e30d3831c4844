"""One upload, one trace: the in-process pipeline's spans, recorded by the SDK's in-memory exporter."""

from __future__ import annotations

from collections import defaultdict

STEPS = ["ingest", "keyframes", "features", "match", "evidence"]


def test_one_video_uploads_trace_spans_every_step_with_db_and_store_calls(process_tiny_dataset, span_exporter):
    with process_tiny_dataset("tracing", seed=7):
        spans = span_exporter.get_finished_spans()
    traces = defaultdict(list)
    for span in spans:
        traces[span.context.trace_id].append(span)
    video_traces = [found for found in traces.values() if {f"step {step}" for step in STEPS} <= {span.name for span in found}]
    assert video_traces, f"no trace spans every step; step spans seen: {sorted({s.name for s in spans if s.name.startswith('step')})}"
    trace = video_traces[0]
    (root,) = [span for span in trace if span.parent is None]
    assert root.name == "step ingest"
    # The trace is one upload's: every step after ingest works on the same uploaded object.
    keys = {span.attributes["deeplens.key"] for span in trace if span.name.startswith("step ") and span.name != "step ingest"}
    assert len(keys) == 1 and next(iter(keys)).endswith(".mp4")
    names = {span.name for span in trace}
    assert "db.query" in names
    assert {"store.get", "store.put"} & names
    # Each step is the child of a span of the step before it.
    by_id = {span.context.span_id: span for span in trace}
    for later, earlier in zip(STEPS[1:], STEPS, strict=False):
        step_span = next(span for span in trace if span.name == f"step {later}")
        ancestor = by_id.get(step_span.parent.span_id)
        while ancestor is not None and not ancestor.name.startswith("step "):
            ancestor = by_id.get(ancestor.parent.span_id) if ancestor.parent else None
        assert ancestor is not None and ancestor.name == f"step {earlier}"
