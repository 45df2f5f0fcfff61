-- The worker's hot path: work_logs takes most of the rows.
--
-- Its foreign keys cost two lookups per inserted row (RI triggers, one SPI
-- query each), a large share of a batch's time in PostgreSQL. The worker is
-- the only writer and decides every log against the project's members,
-- which it knows exactly (see README, "The worker"); projects and users are
-- never deleted. The keys stay on project_members, which is written rarely.
ALTER TABLE work_logs DROP CONSTRAINT work_logs_project_id_fkey;
ALTER TABLE work_logs DROP CONSTRAINT work_logs_user_id_fkey;

-- The duplicate guard, cheaper: a command that is applied now and was
-- applied before is caught by the unique key on events.command_id (the
-- worker treats that violation like WT208), so only the small rejections
-- table is searched for every command, and events only for the commands
-- the batch rejects. That spares a random probe into the largest index
-- per applied command.
DROP FUNCTION wt_begin_batch(text, text, integer[], bigint[], bigint[], bigint[], uuid[]);
CREATE FUNCTION wt_begin_batch(p_group text, p_topic text, p_parts integer[],
                               p_expected bigint[], p_start bigint[],
                               p_next bigint[], p_commands uuid[],
                               p_rejected uuid[])
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
  IF EXISTS (SELECT 1 FROM rejections WHERE command_id = ANY (p_commands))
     OR EXISTS (SELECT 1 FROM events WHERE command_id = ANY (p_rejected)) THEN
    RAISE EXCEPTION 'a command of the batch was decided before' USING ERRCODE = 'WT208';
  END IF;
END
$$;
