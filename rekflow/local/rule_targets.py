"""EventBridge rules whose target is a function (the EventBridgeRule events of template.yaml's functions), offline.

On AWS, EventBridge invokes the function asynchronously with the event as it is. Offline the runtime hands an
event to every function whose rule matches it (`LocalRuntime.deliver`), matched with moto's own EventPattern
(as the ObjectCreated rule is), and synchronously, so a test sees what the function did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from moto.events.models import EventPattern

from rekflow.local.template import Template

if TYPE_CHECKING:
    from moto.events.utils import EventMessageType


@dataclass(frozen=True)
class FunctionRule:
    function_logical_id: str
    event_name: str
    pattern: dict[str, Any]

    def matches(self, event: dict[str, Any]) -> bool:
        return bool(EventPattern.load(json.dumps(self.pattern)).matches_event(cast("EventMessageType", event)))


def function_rules(template: Template) -> list[FunctionRule]:
    """Every EventBridgeRule event of the template's functions, its pattern resolved."""
    return [
        FunctionRule(logical_id, name, template.resolve(event["Properties"]["Pattern"]))
        for logical_id, resource in template.resources_of_type("AWS::Serverless::Function").items()
        for name, event in resource["Properties"].get("Events", {}).items()
        if event["Type"] == "EventBridgeRule"
        and template.resolve(event["Properties"].get("State", "ENABLED")) == "ENABLED"
    ]
