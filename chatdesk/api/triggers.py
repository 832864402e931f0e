"""/api/v1/triggers (admin): the rules that act on new chats and messages."""

from __future__ import annotations

from starlette.requests import Request

from chatdesk.api.admin_resource import AdminResource
from chatdesk.api.common import desk
from chatdesk.services import rules_triggers


def _changed(request: Request) -> None:
    """This process runs the new set at once; others within a few seconds."""
    feature = desk(request).ext.get("rules")
    if feature is not None:
        feature.engine.forget()


triggers = AdminResource(
    path="/api/v1/triggers",
    noun="a trigger",
    list_all=rules_triggers.list_triggers,
    get=rules_triggers.get_trigger,
    create=rules_triggers.create_trigger,
    change=rules_triggers.change_trigger,
    delete=rules_triggers.delete_trigger,
    changed=_changed,
)
routes = triggers.routes()
