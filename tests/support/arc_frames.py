"""A strict reader of the frames our /subscriptions server sends, as an Arc client decodes them.

`assert_arc_frame` fails on anything a strict graphql-transport-ws client with Arc's Kotlin
types would reject: an unknown frame type or extra keys, an AgentResult `type` that is not
an AgentResultType, and any field the subscription did not select (or a selected one left
out). `StrictCommunicator` applies it to every frame a test receives.
"""

from __future__ import annotations

from typing import Any

from channels.testing import WebsocketCommunicator
from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, OperationDefinitionNode
from graphql import parse as graphql_parse

ARC_RESULT_TYPES = {"MESSAGE", "INTERMEDIATE_MESSAGE", "EVENT", "ERROR"}

# response key -> (field name, the selection below it or None for a leaf)
Selection = dict[str, tuple[str, "Selection | None"]]


def agent_selection(query: str) -> Selection:
    """What the subscription selects below its `agent` field, fragments merged."""
    document = graphql_parse(query)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))

    def collect(selection_set) -> Selection:
        tree: Selection = {}
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                key = node.alias.value if node.alias else node.name.value
                below = collect(node.selection_set) if node.selection_set else None
                tree[key] = (node.name.value, below)
            elif isinstance(node, InlineFragmentNode):
                tree.update(collect(node.selection_set))
            elif isinstance(node, FragmentSpreadNode):
                tree.update(collect(fragments[node.name.value].selection_set))
        return tree

    root = collect(operation.selection_set)
    return root["agent"][1] if "agent" in root else {}


def _assert_selected(value: Any, selection: Selection | None, where: str) -> None:
    if value is None:
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _assert_selected(item, selection, f"{where}[{i}]")
        return
    if selection is None:
        assert not isinstance(value, dict), f"{where} is a leaf but holds an object"
        return
    assert isinstance(value, dict), f"{where} must be an object"
    assert set(value) == set(selection), f"{where} holds {sorted(value)}, the subscription selected {sorted(selection)}"
    for key, (_, below) in selection.items():
        _assert_selected(value[key], below, f"{where}.{key}")


def assert_arc_frame(frame: dict[str, Any], queries: dict[str, str]) -> None:
    """`queries`: the query of every subscription sent so far, by id."""
    kind = frame.get("type")
    assert kind in {"connection_ack", "ping", "pong", "next", "error", "complete"}, f"unknown frame type {kind!r}"
    if kind in ("connection_ack", "ping", "pong"):
        assert set(frame) <= {"type", "payload"}, frame
        return
    assert frame.get("id") in queries, f"frame for an id never subscribed: {frame}"
    if kind == "complete":
        assert set(frame) == {"type", "id"}, frame
        return
    assert set(frame) == {"type", "id", "payload"}, frame
    if kind == "error":
        payload = frame["payload"]
        assert isinstance(payload, list) and payload, frame
        assert all(isinstance(e, dict) and isinstance(e.get("message"), str) and e["message"] for e in payload), frame
        return
    payload = frame["payload"]
    assert set(payload) == {"data"}, f"a next frame carries {sorted(payload)}"
    assert set(payload["data"]) == {"agent"}, payload
    selection = agent_selection(queries[frame["id"]])
    result = payload["data"]["agent"]
    _assert_selected(result, selection, "agent")
    for key, (name, _) in selection.items():
        if name == "type":
            assert result[key] in ARC_RESULT_TYPES, f"AgentResult type {result[key]!r} is not an Arc AgentResultType"


class StrictCommunicator(WebsocketCommunicator):
    """A Channels test client that checks every frame the server sends with assert_arc_frame."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queries: dict[str, str] = {}
        self.frames: list[dict[str, Any]] = []

    async def send_json_to(self, data: Any) -> None:
        if isinstance(data, dict) and data.get("type") == "subscribe":
            self.queries[data.get("id")] = (data.get("payload") or {}).get("query") or ""
        await super().send_json_to(data)

    async def receive_json_from(self, timeout: float = 1) -> Any:
        frame = await super().receive_json_from(timeout)
        self.frames.append(frame)
        assert_arc_frame(frame, self.queries)
        return frame
