"""the e-mail channel: site mail settings, outbox, mail threads, visitor presence

Revision ID: 0020_email
Revises: 0004
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0020_email"
down_revision = "0004"
branch_labels = ("email",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("email_from", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("support_address", sa.String(length=320), nullable=True))
        batch.add_column(
            sa.Column("send_final_answer", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column("send_pending_reply", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("inbound_secret", sa.String(length=64), nullable=True))
    # Every existing site gets its own secret; new ones get it from the model's default.
    sites = sa.table("sites", sa.column("id", sa.Integer), sa.column("inbound_secret", sa.String))
    conn = op.get_bind()
    for (site_id,) in conn.execute(sa.select(sites.c.id)).all():
        conn.execute(
            sites.update()
            .where(sites.c.id == site_id)
            .values(inbound_secret=secrets.token_urlsafe(32))
        )

    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("seqs", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_mail_outbox_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_mail_outbox_message_id")),
    )
    op.create_index(op.f("ix_mail_outbox_ticket_id"), "mail_outbox", ["ticket_id"], unique=False)
    op.create_index("ix_mail_outbox_due", "mail_outbox", ["status", "next_try_at"], unique=False)

    op.create_table(
        "mail_threads",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("mailed_seq", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_inbound_id", sa.String(length=255), nullable=True),
        sa.Column("last_outbound_id", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_mail_threads_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_mail_threads")),
    )
    op.create_index(op.f("ix_mail_threads_due_at"), "mail_threads", ["due_at"], unique=False)

    op.create_table(
        "mail_presence",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("connected", sa.Boolean(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_mail_presence_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_mail_presence")),
    )


def downgrade() -> None:
    op.drop_table("mail_presence")
    op.drop_index(op.f("ix_mail_threads_due_at"), table_name="mail_threads")
    op.drop_table("mail_threads")
    op.drop_index("ix_mail_outbox_due", table_name="mail_outbox")
    op.drop_index(op.f("ix_mail_outbox_ticket_id"), table_name="mail_outbox")
    op.drop_table("mail_outbox")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("inbound_secret")
        batch.drop_column("send_pending_reply")
        batch.drop_column("send_final_answer")
        batch.drop_column("support_address")
        batch.drop_column("email_from")
