-- events.data as json, not jsonb: the worker's text, kept byte for byte.
--
-- Nothing queries inside an event's data: it is written once by the worker
-- and read back whole (a `since` replay, an outcome re-published after a
-- redelivery). jsonb parsed every event into a tree and sorted its keys on
-- the way in (a sixth of PostgreSQL's time per batch in the worker's
-- benchmark) and printed it anew, spaces and key order changed, on the way
-- out. json only checks the text, and a replayed or re-published event now
-- carries exactly the bytes of the live one.
ALTER TABLE events ALTER COLUMN data TYPE json USING data::json;
