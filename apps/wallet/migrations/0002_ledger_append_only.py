"""PostgreSQL triggers that keep the ledger append-only: entries and postings are never deleted,
entries never edited, and a posting may only change from unapplied to applied (the rollup)."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION wallet_forbid_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the coin ledger is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION wallet_posting_guard() RETURNS trigger AS $$
BEGIN
    IF NEW.id <> OLD.id OR NEW.entry_id <> OLD.entry_id OR NEW.account_id <> OLD.account_id
       OR NEW.amount <> OLD.amount OR (OLD.applied AND NOT NEW.applied) THEN
        RAISE EXCEPTION 'postings may only be marked applied';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER wallet_journalentry_append_only BEFORE UPDATE OR DELETE ON wallet_journalentry
    FOR EACH ROW EXECUTE FUNCTION wallet_forbid_change();
CREATE TRIGGER wallet_posting_no_delete BEFORE DELETE ON wallet_posting
    FOR EACH ROW EXECUTE FUNCTION wallet_forbid_change();
CREATE TRIGGER wallet_posting_guard BEFORE UPDATE ON wallet_posting
    FOR EACH ROW EXECUTE FUNCTION wallet_posting_guard();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS wallet_journalentry_append_only ON wallet_journalentry;
DROP TRIGGER IF EXISTS wallet_posting_no_delete ON wallet_posting;
DROP TRIGGER IF EXISTS wallet_posting_guard ON wallet_posting;
DROP FUNCTION IF EXISTS wallet_forbid_change();
DROP FUNCTION IF EXISTS wallet_posting_guard();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("wallet", "0001_ledger")]
    operations = [migrations.RunPython(forward, backward)]
