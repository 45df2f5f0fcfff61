-- What the worker needs for exactly-once batches.

-- user.* events form one stream per user (keyed by the user id): its seq.
ALTER TABLE users ADD COLUMN seq bigint NOT NULL DEFAULT 0 CHECK (seq >= 0);

-- Rejected commands: a redelivered or duplicated command gets its first
-- outcome again instead of being decided twice.
CREATE TABLE rejections (
  command_id  uuid PRIMARY KEY,
  stream_id   uuid NOT NULL,   -- the command's key: its project, or user for user.*
  project_id  uuid,            -- the project it was about, if any
  actor_id    uuid,            -- NULL: the system
  code        text NOT NULL CHECK (code IN ('invalid', 'not_found', 'forbidden', 'conflict')),
  message     text NOT NULL,
  at          timestamptz NOT NULL
);

-- The consumed position of each partition, moved in the batch's own
-- transaction and guarded by the expected value: a worker that lost its
-- partitions in a rebalance fails instead of writing twice.
-- batch_start is where the last committed batch began: after a crash the
-- worker re-reads from there and re-publishes that batch's outcomes.
CREATE TABLE consumer_offsets (
  group_id     text NOT NULL,
  topic        text NOT NULL,
  partition    integer NOT NULL CHECK (partition >= 0),
  batch_start  bigint NOT NULL CHECK (batch_start >= 0),
  next_offset  bigint NOT NULL CHECK (next_offset >= batch_start),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition)
);

-- One call per batch, first in its transaction:
--  * moves each partition from p_expected to p_next (p_expected = -1: the
--    partition has no row yet) and fails with WT409 when another worker
--    moved it first;
--  * fails with WT208 when a command of the batch was decided before.
CREATE FUNCTION wt_begin_batch(p_group text, p_topic text, p_parts integer[],
                               p_expected bigint[], p_start bigint[],
                               p_next bigint[], p_commands uuid[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  i integer;
  n integer;
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_parts, 1), 0) LOOP
    IF p_expected[i] < 0 THEN
      INSERT INTO consumer_offsets (group_id, topic, partition, batch_start, next_offset)
      VALUES (p_group, p_topic, p_parts[i], p_start[i], p_next[i])
      ON CONFLICT DO NOTHING;
    ELSE
      UPDATE consumer_offsets
         SET batch_start = p_start[i], next_offset = p_next[i], updated_at = now()
       WHERE group_id = p_group AND topic = p_topic AND partition = p_parts[i]
         AND next_offset = p_expected[i];
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n <> 1 THEN
      RAISE EXCEPTION 'partition % of % moved: another worker owns it', p_parts[i], p_topic
        USING ERRCODE = 'WT409';
    END IF;
  END LOOP;
  IF EXISTS (SELECT 1 FROM events WHERE command_id = ANY (p_commands))
     OR EXISTS (SELECT 1 FROM rejections WHERE command_id = ANY (p_commands)) THEN
    RAISE EXCEPTION 'a command of the batch was decided before' USING ERRCODE = 'WT208';
  END IF;
END
$$;
