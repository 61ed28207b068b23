"""The SQL of a one-statement spend: the wallet's debit, entry and postings, around the caller's
guard conditions and the caller's own record.

Only the wallet writes ledger rows. A caller that wants a spend and its own row in ONE round trip
(the gift send) describes its part as a `SpendStatement`: the conditions under which the spend
may go ahead and how much goes where, as SQL over its own tables and the parts other apps lend
it; this module wraps the ledger's part around it. `apps.wallet.services.coins_spend_guarded`
runs the result.
"""

import functools
from dataclasses import dataclass

from apps.wallet.models import Account, JournalEntry, Posting
from apps.wallet.types import AccountKind

# The wallet's own parameters in the statement; a caller's parameters must not use these names.
KIND_PARAM, REF_PARAM, AT_PARAM = "ledger_kind", "ledger_ref", "ledger_at"

RESULT_COLUMNS = 4  # entry id, the payer's balance afterwards, coins spent, postings written


@dataclass(frozen=True)
class Credit:
    """Where some of the spent coins go: `amount` (SQL over the guard's `spend` row) to the account
    of `kind` owned by `owner` (SQL over `spend`, a user id), or to the platform's account of `kind`
    when `owner` is None. A credit whose amount comes out as 0 is left out."""

    kind: AccountKind
    amount: str
    owner: str | None = None


@dataclass(frozen=True)
class SpendStatement:
    """The caller's part of a one-statement spend.

    guard: common table expressions (`name AS (...)`, comma separated) ending with one named `spend`
        that has ONE row when the spend may go ahead and none otherwise, with the columns `payer_id`
        (whose spendable coins pay), `total` (coins, > 0), `memo` and `created_by` (a user id or NULL),
        and whatever `credits` read. With no row, nothing at all is written.
    credits: where `total` goes. The statement writes nothing unless the credits found their
        accounts and add up to `total`: every entry balances.
    record: the caller's own writes, as (name, SQL) common table expressions run after the ledger's;
        they may read `spend`, `debit` (`balance`: the payer's coins afterwards) and `entry` (`id`).
    returning: further columns of the result row, from `spend`, `debit`, `entry` and the record.
    """

    guard: str
    credits: tuple[Credit, ...]
    record: tuple[tuple[str, str], ...] = ()
    returning: str = ""


def _literal(kind: AccountKind) -> str:
    return "'" + AccountKind(kind).value + "'"  # a known choice: nothing to escape


@functools.cache
def spend_sql(statement: SpendStatement) -> str:
    """The whole statement. Its one row: entry id, the payer's balance, total, postings written, then
    `returning`; no row when the guard or the payer's balance declined (nothing was written).

    The only row lock it takes is the payer's account (the debit re-checks the balance on the newest
    row version); credits are appended unapplied for `ledger_rollup`, so a popular host's row is
    never locked. A (kind, ref) already recorded raises the entry's unique violation and the whole
    statement is undone.
    """
    account, entry, posting = Account._meta.db_table, JournalEntry._meta.db_table, Posting._meta.db_table
    # SQL from the caller's statement and the models' names, never from request data.
    credit_rows = " UNION ALL ".join(
        f"SELECT a.id, ({credit.amount})::bigint AS amount FROM {account} a, spend "  # noqa: S608
        f"WHERE a.owner_id {f'= {credit.owner}' if credit.owner else 'IS NULL'} "
        f"AND a.kind = {_literal(credit.kind)} AND ({credit.amount}) > 0"
        for credit in statement.credits
    )
    record = "".join(f",\n{name} AS ({sql})" for name, sql in statement.record)
    record_names = "".join(f", {name}" for name, _ in statement.record)
    returning = f", {statement.returning}" if statement.returning else ""
    return f"""
WITH {statement.guard},
credit AS ({credit_rows}),
debit AS (  -- the only lock taken: the payer's row; the balance is re-checked on its newest version
    UPDATE {account} a SET balance = a.balance - spend.total FROM spend
    WHERE a.owner_id = spend.payer_id AND a.kind = {_literal(AccountKind.USER_COINS)}
      AND a.balance >= spend.total AND spend.total > 0
      AND (SELECT coalesce(sum(credit.amount), 0) FROM credit) = spend.total
    RETURNING a.id, a.balance
),
entry AS (  -- no ON CONFLICT: a ref already recorded raises, and the whole statement is undone
    INSERT INTO {entry} (kind, ref, memo, created_by_id, created_at)
    SELECT %({KIND_PARAM})s, %({REF_PARAM})s, left(spend.memo, 300), spend.created_by, %({AT_PARAM})s
    FROM debit, spend
    RETURNING id
),
posted AS (
    INSERT INTO {posting} (entry_id, account_id, amount, applied)
    SELECT entry.id, debit.id, -spend.total, true FROM entry, debit, spend
    UNION ALL
    SELECT entry.id, credit.id, credit.amount, false FROM entry, credit
    RETURNING 1
){record}
SELECT entry.id, debit.balance, spend.total, (SELECT count(*) FROM posted){returning}
FROM spend, debit, entry{record_names}
"""  # noqa: S608
