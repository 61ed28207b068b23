-- One gift as the wallet makes it: the sender's row is debited under its lock (the step that can
-- fail), the host's credit is only appended (rolled into the balance later), so concurrent gifts
-- to one host never wait for each other. pgbench -M prepared, after setup.sql.
\set sender random(1, 100000)
BEGIN;
UPDATE ceiling_accounts SET balance = balance - 10 WHERE id = :sender;
INSERT INTO ceiling_postings (account_id, delta) VALUES (:sender, -10), (0, 10);
COMMIT;
