-- wt_begin_batch's duplicate guard, by index whatever the statistics say.
-- `command_id = ANY (array)` inside plpgsql got a generic plan that scanned
-- rejections (and events) comparing every row with every element: 1000 x n
-- uuid comparisons per batch. Joining the unnested array to the key makes
-- it one index probe per command.
CREATE OR REPLACE FUNCTION wt_begin_batch(p_group text, p_topic text, p_parts integer[],
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
  IF EXISTS (SELECT 1 FROM unnest(p_commands) AS c(id)
               JOIN rejections r ON r.command_id = c.id)
     OR EXISTS (SELECT 1 FROM unnest(p_rejected) AS c(id)
                  JOIN events e ON e.command_id = c.id) THEN
    RAISE EXCEPTION 'a command of the batch was decided before' USING ERRCODE = 'WT208';
  END IF;
END
$$;
