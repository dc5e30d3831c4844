"""Event envelope, routing table and delivery spec."""

import pytest

from deeplens.errors import BadInput
from eventing import types
from eventing.delivery import DeliverySpec
from eventing.events import Event
from eventing.routing import ROUTES, STEPS, subscribers_for


def test_every_event_type_a_step_emits_except_the_last_has_a_subscriber():
    emitted = set(types.SCHEMAS) - {types.MATCH_EVIDENCED}
    assert emitted <= {route.event_type for route in ROUTES}


def test_frames_and_products_both_route_to_features():
    assert subscribers_for(types.FRAMES_EXTRACTED) == ["features"]
    assert subscribers_for(types.PRODUCT_UPLOADED) == ["features"]


def test_an_unrouted_type_has_no_subscribers():
    assert subscribers_for("dev.deeplens.nothing") == []


def test_steps_are_listed_once_in_table_order():
    assert STEPS == ("ingest", "keyframes", "features", "match", "evidence")


def test_child_event_ids_are_deterministic_so_reruns_deduplicate():
    parent = Event(type="a", source="s", data={}, id="parent-1", tenant="acme", rootkey="videos/v.mp4")
    first = parent.child("b", {"x": 1}, source="s2", key="k")
    again = parent.child("b", {"x": 1}, source="s2", key="k")
    sibling = parent.child("b", {"x": 1}, source="s2", key="other")
    assert first.id == again.id != sibling.id


def test_child_events_inherit_tenant_and_root_key():
    parent = Event(type="a", source="s", data={}, tenant="acme", rootkey="videos/v.mp4")
    child = parent.child("b", {}, source="s", key="k")
    assert (child.tenant, child.rootkey) == ("acme", "videos/v.mp4")


def test_structured_json_round_trips():
    event = Event(type="a", source="s", data={"k": [1, 2]}, subject="x", tenant="t", rootkey="r")
    assert Event.from_json(event.to_json()) == event


@pytest.mark.parametrize(
    "document",
    [
        {"source": "s", "type": "a", "specversion": "1.0", "data": {}},
        {"id": "1", "source": "s", "type": "a", "specversion": "0.3", "data": {}},
        {"id": "1", "source": "s", "type": "a", "specversion": "1.0", "data": "text"},
        ["not", "an", "object"],
    ],
    ids=["missing-id", "old-specversion", "non-object-data", "not-an-object"],
)
def test_malformed_cloudevents_are_bad_input(document):
    with pytest.raises(BadInput) as raised:
        Event.from_json(document)
    assert raised.value.reason == "malformed_event"


def test_event_data_is_validated_against_its_schema():
    with pytest.raises(BadInput, match="frames"):
        types.parse_data(types.FramesExtracted, {"video_id": "v", "frames": []})


def test_exponential_backoff_doubles_per_retry_as_in_knative():
    spec = DeliverySpec(retry=3, backoff_policy="exponential", backoff_delay=0.5)
    assert [spec.delay(n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert spec.max_attempts == 4


def test_linear_backoff_grows_by_the_delay_per_retry():
    spec = DeliverySpec(retry=2, backoff_policy="linear", backoff_delay=0.5)
    assert [spec.delay(n) for n in (1, 2)] == [0.5, 1.0]

