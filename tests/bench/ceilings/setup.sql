-- Raw-SQL ceiling of a gift on this machine (tests/bench/bench_gifts.py runs it in a scratch database).
-- 100,000 senders with plenty of coins and one popular host (account 0); postings are append-only
-- rows indexed as the wallet's are, by account then id.
DROP TABLE IF EXISTS ceiling_postings, ceiling_accounts;
CREATE TABLE ceiling_accounts (
    id bigint PRIMARY KEY,
    balance bigint NOT NULL CHECK (balance >= 0)
);
INSERT INTO ceiling_accounts SELECT g, 1000000000 FROM generate_series(0, 100000) AS g;
CREATE TABLE ceiling_postings (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    delta bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ceiling_postings_account_id ON ceiling_postings (account_id, id);
VACUUM ANALYZE;
