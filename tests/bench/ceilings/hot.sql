-- The design the wallet avoids: every gift also updates the popular host's balance row, so all
-- gifts to that host queue on one row lock. pgbench -M prepared, after setup.sql.
\set sender random(1, 100000)
BEGIN;
UPDATE ceiling_accounts SET balance = balance - 10 WHERE id = :sender;
UPDATE ceiling_accounts SET balance = balance + 10 WHERE id = 0;
INSERT INTO ceiling_postings (account_id, delta) VALUES (:sender, -10), (0, 10);
COMMIT;
