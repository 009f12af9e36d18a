"""audit log hash chain: every row carries the sha256 of its canonical text and of its chain's previous row

One chain per organization (org_id NULL is the global chain). A BEFORE INSERT trigger serializes inserts per chain
with a transaction-level advisory lock, draws the row's id under that lock (so id order is chain order), reads the
chain's last row_hash and sets prev_hash and row_hash. `python -m api.audit_verify` recomputes the chain from the
same canonical text (api/audit_verify.py mirrors audit_log_canonical below). Existing rows are chained here.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00.000000
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Namespace of the audit chains' advisory locks (first key of pg_advisory_xact_lock(int, int)).
CHAIN_LOCK_CLASS = 7_262_001

# Each field is `length:value` (or `-` for NULL), joined by `|`: no value can imitate a separator or a NULL.
CANONICAL = """
CREATE FUNCTION audit_log_field(value text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN value IS NULL THEN '-' ELSE length(value)::text || ':' || value END
$$;

CREATE FUNCTION audit_log_canonical(
    prev_hash text, org_id uuid, actor_type text, actor_id uuid, actor_name text, action text, target_type text,
    target_id text, before jsonb, after jsonb, created_at timestamptz
) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT concat_ws('|',
        audit_log_field(prev_hash), audit_log_field(org_id::text), audit_log_field(actor_type),
        audit_log_field(actor_id::text), audit_log_field(actor_name), audit_log_field(action),
        audit_log_field(target_type), audit_log_field(target_id), audit_log_field(before::text),
        audit_log_field(after::text),
        audit_log_field(to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
$$;

CREATE FUNCTION audit_log_hash(
    prev_hash text, org_id uuid, actor_type text, actor_id uuid, actor_name text, action text, target_type text,
    target_id text, before jsonb, after jsonb, created_at timestamptz
) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to(audit_log_canonical(prev_hash, org_id, actor_type, actor_id, actor_name, action,
                                                        target_type, target_id, before, after, created_at),
                                    'UTF8')), 'hex')
$$;
"""

CHAIN_TRIGGER = """
CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head_key text := 'audit_chain.' || coalesce('o' || replace(NEW.org_id::text, '-', ''), 'global');
BEGIN
    -- Held until commit: no other transaction appends to this chain meanwhile, so the head this transaction
    -- saw or wrote stays the head; it is kept in a transaction-local setting (rolled back with a savepoint).
    PERFORM pg_advisory_xact_lock({lock_class}, hashtext(coalesce(NEW.org_id::text, 'global')));
    NEW.id := nextval('{sequence}');
    NEW.created_at := coalesce(NEW.created_at, now());
    NEW.prev_hash := nullif(current_setting(head_key, true), '');
    IF NEW.prev_hash IS NULL THEN
        -- Planned per call: a plan cached while the table was small would scan it for every row.
        IF NEW.org_id IS NULL THEN
            EXECUTE 'SELECT row_hash FROM audit_log WHERE org_id IS NULL ORDER BY id DESC LIMIT 1'
                INTO NEW.prev_hash;
        ELSE
            EXECUTE 'SELECT row_hash FROM audit_log WHERE org_id = $1 ORDER BY id DESC LIMIT 1'
                INTO NEW.prev_hash USING NEW.org_id;
        END IF;
    END IF;
    NEW.row_hash := audit_log_hash(NEW.prev_hash, NEW.org_id, NEW.actor_type, NEW.actor_id, NEW.actor_name,
                                   NEW.action, NEW.target_type, NEW.target_id, NEW.before, NEW.after, NEW.created_at);
    PERFORM set_config(head_key, NEW.row_hash, true);
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_log_hash_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain();
"""

BACKFILL = """
DO $$
DECLARE
    r record;
    last text;
    chain text;
    started boolean := false;
BEGIN
    FOR r IN SELECT * FROM audit_log ORDER BY org_id NULLS FIRST, id LOOP
        IF NOT started OR chain IS DISTINCT FROM r.org_id::text THEN
            last := NULL;
            chain := r.org_id::text;
            started := true;
        END IF;
        UPDATE audit_log SET prev_hash = last,
            row_hash = audit_log_hash(last, r.org_id, r.actor_type, r.actor_id, r.actor_name, r.action,
                                      r.target_type, r.target_id, r.before, r.after, r.created_at)
        WHERE id = r.id
        RETURNING row_hash INTO last;
    END LOOP;
END;
$$;
"""


def upgrade() -> None:
    op.execute(CANONICAL)
    # The append-only trigger refuses the backfill's UPDATE; ALTER TABLE also locks out writers until commit.
    op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    op.execute(BACKFILL)
    op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    sequence = op.get_bind().exec_driver_sql("SELECT pg_get_serial_sequence('audit_log', 'id')").scalar_one()
    op.execute(CHAIN_TRIGGER.format(lock_class=CHAIN_LOCK_CLASS, sequence=sequence))


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_log_hash_chain ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_chain()")
    op.execute("DROP FUNCTION IF EXISTS audit_log_hash(text, uuid, text, uuid, text, text, text, text, jsonb, jsonb, "
               "timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS audit_log_canonical(text, uuid, text, uuid, text, text, text, text, jsonb, "
               "jsonb, timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS audit_log_field(text)")
