"""What agents see and edit of a customer: details, earlier tickets, customer notes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chatdesk.errors import BadRequest, NotFound
from chatdesk.realtime import bus
from chatdesk.realtime.protocol import with_urls
from chatdesk.services import views
from chatdesk.services.agents import Principal, check_email
from chatdesk.services.files import own_uploads
from chatdesk.services.files import view as file_view
from chatdesk.services.ticketing import Changes, TicketService
from chatdesk.services.timeline import iso
from chatdesk.store.models import Agent, Attachment, Customer, CustomerNote, Site, Ticket

MAX_NOTE_CHARS = 10_000


def _note(note: CustomerNote, author: Agent | None, files: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        **with_urls({"attachments": files}),
        "id": note.id,
        "customer": note.customer_id,
        "body": note.body,
        "author": views.agent_ref(author),
        "created_at": iso(note.created_at),
    }


async def _company(session: AsyncSession, customer: Customer) -> dict[str, Any] | None:
    """The customer's company: set by an agent, or else the one owning their e-mail domain."""
    from chatdesk.services.companies import company_for_email, view
    from chatdesk.store.models_backoffice import Company

    if customer.company_id is not None:
        found = await session.get(Company, customer.company_id)
    else:
        found = await company_for_email(session, customer.email)
    return view(found) if found is not None else None


class CustomerProfiles(TicketService):
    async def show(self, customer_id: int) -> dict[str, Any]:
        async with self._reads() as session:
            customer = await session.get(Customer, customer_id)
            if customer is None:
                raise NotFound(f"no customer {customer_id}")
            site = await session.get(Site, customer.site_id)
            tickets = (
                await session.execute(
                    select(Ticket)
                    .where(Ticket.customer_id == customer.id)
                    .order_by(Ticket.id.desc())
                )
            ).scalars()
            return {
                "id": customer.id,
                "name": customer.name,
                "email": customer.email,
                "external_id": customer.external_id,
                "ip": customer.ip,
                "user_agent": customer.user_agent,
                "page_url": customer.page_url,
                "created_at": iso(customer.created_at),
                "site": {"id": site.id, "name": site.name} if site else None,
                "tickets": [
                    {
                        "id": t.id,
                        "status": t.status,
                        "subject": t.subject,
                        "created_at": iso(t.created_at),
                        "updated_at": iso(t.updated_at),
                    }
                    for t in tickets
                ],
                "notes": await self._notes(session, customer.id),
                "phone": customer.phone,
                "company": await _company(session, customer),
            }

    async def update(
        self,
        customer_id: int,
        name: str | None,
        email: str | None,
        company: int | bool | None = False,
    ) -> dict[str, Any]:
        """Agents correct a customer's name and e-mail; their open tickets' lists update live."""
        if email:
            email = check_email(email)

        async def op(session: AsyncSession, changes: Changes) -> None:
            customer = await session.get(Customer, customer_id)
            if customer is None:
                raise NotFound(f"no customer {customer_id}")
            if name is not None:
                customer.name = " ".join(name.split()) or None
            if email is not None:
                customer.email = email or None
            if company is not False:  # an id, or None to go back to matching by domain
                from chatdesk.store.models_backoffice import Company

                if company is not None and await session.get(Company, company) is None:
                    raise NotFound(f"no company {company}")
                customer.company_id = company
            await session.flush()
            live = (
                await session.execute(
                    select(Ticket).where(
                        Ticket.customer_id == customer.id, Ticket.status.not_in(("closed",))
                    )
                )
            ).scalars()
            for ticket in live:
                summary = await views.ticket_view(session, ticket)
                changes.raw(bus.AGENTS, bus.QueueMsg(summary))

        await self._write(customer_id, op)
        return await self.show(customer_id)

    async def add_note(
        self, agent: Principal, customer_id: int, body: str, attachments: tuple[str, ...]
    ) -> dict[str, Any]:
        if not body.strip() or len(body) > MAX_NOTE_CHARS or "\x00" in body:
            raise BadRequest(f"a note is 1 to {MAX_NOTE_CHARS} characters of text")

        async def op(session: AsyncSession, changes: Changes) -> dict[str, Any]:
            if await session.get(Customer, customer_id) is None:
                raise NotFound(f"no customer {customer_id}")
            owned = await own_uploads(session, attachments, ("agent", agent.id))
            files = [file_view(att) for att in owned]
            note = CustomerNote(
                customer_id=customer_id,
                author_id=agent.id,
                body=body,
                attachments=list(attachments),
            )
            session.add(note)
            await session.flush()
            author = await session.get(Agent, agent.id)
            return _note(note, author, files)

        return await self._write(customer_id, op)

    async def notes(self, customer_id: int) -> list[dict[str, Any]]:
        async with self._reads() as session:
            if await session.get(Customer, customer_id) is None:
                raise NotFound(f"no customer {customer_id}")
            return await self._notes(session, customer_id)

    async def _notes(self, session: AsyncSession, customer_id: int) -> list[dict[str, Any]]:
        rows = (
            await session.execute(
                select(CustomerNote, Agent)
                .outerjoin(Agent, Agent.id == CustomerNote.author_id)
                .where(CustomerNote.customer_id == customer_id)
                .order_by(CustomerNote.id)
            )
        ).all()
        ids = {i for note, _ in rows for i in note.attachments or []}
        files = {}
        if ids:
            files = {
                a.id: file_view(a)
                for a in (
                    await session.execute(select(Attachment).where(Attachment.id.in_(ids)))
                ).scalars()
            }
        return [
            _note(note, author, [files[i] for i in note.attachments or [] if i in files])
            for note, author in rows
        ]
