"""Features that run beside the core desk: they start and stop with it.

An extension is built from the Desk once the core is up, may register after-commit
hooks on ``desk.writer.after_commit`` and background tasks, and is reachable as
``desk.ext[Extension.name]``. Add a feature by appending its class to EXTENSIONS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from chatdesk.desk import Desk


class Extension(Protocol):
    name: ClassVar[str]

    def __init__(self, desk: Desk) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def extensions() -> list[type[Extension]]:
    """The feature classes, imported late so the core never depends on them."""
    from chatdesk.mail.extension import MailExtension
    from chatdesk.ops.extension import Ops
    from chatdesk.services.rules import RulesExtension

    return [RulesExtension, MailExtension, Ops]
