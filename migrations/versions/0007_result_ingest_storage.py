"""result ingest storage: one history row per scan, state rows written only on change, raw results as json

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 00:40:00.000000

`scan_check_results` (one row per check per scan, a primary-key index and a foreign-key check per row) becomes
`scan_results`: one row per scan holding parallel arrays in template order (random uuids do not compress, so
check_ids is stored without trying). A view of the old name unnests it,
so readers keep asking for one scan's rows by `scan_id` (the view's qualifier reaches the primary key).

`check_states` loses the per-row foreign keys to organizations and compliance_scans (and the index that only
served the latter's cascade): deleting an organization still cascades through hosts, and a state's `scan_id`
now names the scan that first observed the state rather than the latest one, which host_policy_status holds.

`agent_jobs.result` holds the agent's document as posted and is read back whole, once, by recording: `json`
keeps its text as is, where `jsonb` parsed it on the way in and rebuilt the text on the way out.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

STATUSES = "ARRAY['pass', 'fail', 'error', 'skip', 'waived']::text[]"

VIEW = """
CREATE VIEW scan_check_results AS
SELECT r.scan_id, u.check_id, u.rule_id, u.status, u.actual, u.exception_id, u.position
FROM scan_results r
CROSS JOIN LATERAL unnest(r.check_ids, r.rule_ids, r.statuses, r.actuals, r.exception_ids)
    WITH ORDINALITY AS u(check_id, rule_id, status, actual, exception_id, position)
"""


def upgrade() -> None:
    op.create_table(
        "scan_results",
        sa.Column("scan_id", sa.UUID(), nullable=False),
        sa.Column("check_ids", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("rule_ids", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("statuses", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("actuals", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("exception_ids", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.CheckConstraint(f"statuses <@ {STATUSES}", name=op.f("ck_scan_results_statuses")),
        sa.CheckConstraint(
            "cardinality(rule_ids) = cardinality(check_ids) AND cardinality(statuses) = cardinality(check_ids)"
            " AND cardinality(actuals) = cardinality(check_ids)"
            " AND cardinality(exception_ids) = cardinality(check_ids)",
            name=op.f("ck_scan_results_parallel_arrays"),
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["compliance_scans.id"], name=op.f("fk_scan_results_scan_id_compliance_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scan_id", name=op.f("pk_scan_results")),
    )
    op.execute("ALTER TABLE scan_results ALTER COLUMN check_ids SET STORAGE EXTERNAL")
    # lz4 compresses the arrays in half the time of the default pglz; servers built without lz4 keep pglz.
    op.execute("""
        DO $$ BEGIN
            ALTER TABLE scan_results ALTER COLUMN rule_ids SET COMPRESSION lz4,
                                     ALTER COLUMN statuses SET COMPRESSION lz4,
                                     ALTER COLUMN actuals SET COMPRESSION lz4;
        EXCEPTION WHEN feature_not_supported THEN NULL;
        END $$
    """)
    op.execute("""
        INSERT INTO scan_results (scan_id, check_ids, rule_ids, statuses, actuals, exception_ids)
        SELECT r.scan_id, array_agg(r.check_id ORDER BY c.position, r.rule_id),
               array_agg(r.rule_id ORDER BY c.position, r.rule_id), array_agg(r.status ORDER BY c.position, r.rule_id),
               array_agg(r.actual ORDER BY c.position, r.rule_id),
               array_agg(r.exception_id ORDER BY c.position, r.rule_id)
        FROM scan_check_results r LEFT JOIN compliance_checks c ON c.id = r.check_id
        GROUP BY r.scan_id
    """)
    op.drop_table("scan_check_results")
    op.execute(VIEW)

    op.drop_constraint("fk_check_states_scan_id_compliance_scans", "check_states", type_="foreignkey")
    op.drop_constraint("fk_check_states_org_id_organizations", "check_states", type_="foreignkey")
    op.drop_index("ix_check_states_scan_id", table_name="check_states")
    # Room on each page for heap-only updates when only a check's observed value changes.
    op.execute("ALTER TABLE check_states SET (fillfactor = 70)")
    op.execute("ALTER TABLE agent_jobs ALTER COLUMN result TYPE json USING result::json")


def downgrade() -> None:
    op.execute("ALTER TABLE agent_jobs ALTER COLUMN result TYPE jsonb USING result::jsonb")
    op.execute("ALTER TABLE check_states RESET (fillfactor)")
    op.create_index("ix_check_states_scan_id", "check_states", ["scan_id"], unique=False)
    op.create_foreign_key("fk_check_states_org_id_organizations", "check_states", "organizations",
                          ["org_id"], ["id"], ondelete="CASCADE")
    op.create_foreign_key("fk_check_states_scan_id_compliance_scans", "check_states", "compliance_scans",
                          ["scan_id"], ["id"], ondelete="CASCADE")

    op.execute("DROP VIEW scan_check_results")
    op.create_table(
        "scan_check_results",
        sa.Column("scan_id", sa.UUID(), nullable=False),
        sa.Column("check_id", sa.UUID(), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("actual", sa.Text(), nullable=True),
        sa.Column("exception_id", sa.UUID(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pass', 'fail', 'error', 'skip', 'waived')", name=op.f("ck_scan_check_results_status")
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["compliance_scans.id"], name=op.f("fk_scan_check_results_scan_id_compliance_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scan_id", "check_id", name=op.f("pk_scan_check_results")),
    )
    op.execute("""
        INSERT INTO scan_check_results (scan_id, check_id, rule_id, status, actual, exception_id)
        SELECT r.scan_id, u.check_id, u.rule_id, u.status, u.actual, u.exception_id
        FROM scan_results r
        CROSS JOIN LATERAL unnest(r.check_ids, r.rule_ids, r.statuses, r.actuals, r.exception_ids)
            AS u(check_id, rule_id, status, actual, exception_id)
        ON CONFLICT DO NOTHING
    """)
    op.drop_table("scan_results")
