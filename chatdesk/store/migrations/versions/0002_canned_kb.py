"""canned responses and the knowledge base

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:00:00

Full-text search over articles is dialect-specific and so lives only here, not
in the models:

- SQLite: an external-content FTS5 table ``kb_fts`` over ``kb_articles`` (title,
  body), kept in step by triggers, so every write path (service, CLI, raw SQL)
  updates the index in the same transaction. A later batch migration that
  rebuilds ``kb_articles`` drops these triggers and must create them again.
- PostgreSQL: a GIN index on the weighted ``to_tsvector('simple', ...)``
  expression; ``chatdesk.services.kb`` queries with the very same expression so
  the planner can use it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Must stay identical to chatdesk.services.kb.PG_VECTOR.
PG_VECTOR = (
    "setweight(to_tsvector('simple', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple', coalesce(body, '')), 'B')"
)

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE kb_fts USING fts5("
    "title, body, content='kb_articles', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER kb_articles_fts_insert AFTER INSERT ON kb_articles BEGIN "
    "INSERT INTO kb_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER kb_articles_fts_delete AFTER DELETE ON kb_articles BEGIN "
    "INSERT INTO kb_fts(kb_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); END",
    # Only a change of the indexed text re-indexes; publishing does not.
    "CREATE TRIGGER kb_articles_fts_update AFTER UPDATE OF title, body ON kb_articles BEGIN "
    "INSERT INTO kb_fts(kb_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO kb_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
]


def upgrade() -> None:
    op.create_table(
        "canned_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("shortcut", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["agents.id"],
            name=op.f("fk_canned_responses_owner_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_responses")),
    )
    op.create_index(
        "uq_canned_owner_shortcut", "canned_responses", ["owner_id", "shortcut"], unique=True
    )
    op.create_index(
        "uq_canned_company_shortcut",
        "canned_responses",
        ["shortcut"],
        unique=True,
        sqlite_where=sa.text("owner_id IS NULL"),
        postgresql_where=sa.text("owner_id IS NULL"),
    )
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
        sa.UniqueConstraint("slug", name=op.f("uq_kb_articles_slug")),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute(f"CREATE INDEX ix_kb_articles_search ON kb_articles USING gin (({PG_VECTOR}))")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS kb_articles_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS kb_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_kb_articles_search")
    op.drop_table("kb_articles")
    op.drop_index("uq_canned_company_shortcut", table_name="canned_responses")
    op.drop_index("uq_canned_owner_shortcut", table_name="canned_responses")
    op.drop_table("canned_responses")
