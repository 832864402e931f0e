"""ticket management: types, links, SLA, banned words, notifications, companies

Revision ID: 0040_backoffice
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0040_backoffice"
down_revision = "0004"
branch_labels = ("backoffice",)
depends_on = None


def ticket_columns() -> list[sa.Column]:
    return [
        sa.Column("type_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False, server_default="{}"),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("service", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("visibility", sa.String(length=8), nullable=False, server_default="public"),
        sa.Column("resolve_reason", sa.String(length=16), nullable=True),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_resolution_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_breaches", sa.JSON(), nullable=False, server_default="[]"),
        sa.Column("channel", sa.String(length=8), nullable=False, server_default="chat"),
        sa.Column("cc", sa.JSON(), nullable=False, server_default="[]"),
    ]


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        for column in ticket_columns():
            batch.add_column(column)
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("phone", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("company_id", sa.Integer(), nullable=True))
    op.create_table(
        "ticket_types",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=100), nullable=False, unique=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
    )
    op.create_table(
        "ticket_links",
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "other_id",
            sa.Integer(),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index("ix_ticket_links_other_id", "ticket_links", ["other_id"])
    op.create_table(
        "banned_words",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("word", sa.String(length=100), nullable=False, unique=True),
    )
    op.create_table(
        "sla_targets",
        sa.Column("priority", sa.String(length=8), primary_key=True),
        sa.Column("first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("resolution_minutes", sa.Integer(), nullable=True),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "agent_id", sa.Integer(), sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("read", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_notifications_agent_id", "notifications", ["agent_id"])
    op.create_table(
        "companies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("domain", sa.String(length=200), nullable=True, unique=True),
    )
    op.create_table(
        "classifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.UniqueConstraint("kind", "name", name="uq_classifications_kind_name"),
    )
    op.create_table(
        "masked_originals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "event_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("events.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_masked_originals_event_id", "masked_originals", ["event_id"])


def downgrade() -> None:
    for table in (
        "masked_originals",
        "classifications",
        "companies",
        "notifications",
        "sla_targets",
        "banned_words",
        "ticket_links",
        "ticket_types",
    ):
        op.drop_table(table)
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("company_id")
        batch.drop_column("phone")
    with op.batch_alter_table("tickets") as batch:
        for column in reversed(ticket_columns()):
            batch.drop_column(column.name)
