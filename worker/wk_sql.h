/* wk_sql: every SQL statement the worker sends, by name. A batch of any
 * size is one statement per table and kind of change: the hot writes
 * (events, logs, project seq) take one binary array per column (wt_pgarr,
 * unnest), the rare ones one JSON array (json_to_recordset) with times as
 * RFC 3339 strings. Times come back as bigint microseconds. */
#ifndef WK_SQL_H
#define WK_SQL_H

#define WK_US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

/* --- loads (columns as wk_state_load_* expect) --- */
#define WK_SQL_LOAD_USERS                                                      \
  "SELECT id, username, display_name, is_active, token_version, " WK_US(       \
      "created_at") ", seq FROM users "                                        \
                    "WHERE id = ANY ($1::uuid[]) OR username = ANY "           \
                    "($2::text[])"

#define WK_SQL_LOAD_PROJECTS                                                   \
  "SELECT p.id, p.name, p.created_by, " WK_US(                                 \
      "p.created_at") ", p.seq, "                                              \
                      "m.user_id, m.role, " WK_US(                             \
                          "m.added_at") " FROM projects p "                    \
                                        "LEFT JOIN project_members m ON "      \
                                        "m.project_id = p.id "                 \
                                        "WHERE p.id = ANY ($1::uuid[])"

#define WK_SQL_LOAD_LOGS                                                       \
  "SELECT id, project_id, user_id, " WK_US("started_at") ", " WK_US(           \
      "ended_at") ", description, version, " WK_US("created_at") ", " WK_US("updated_at") " FROM work_logs WHERE id = ANY ($1::uuid[])"

#define WK_SQL_LOAD_OFFSETS                                                    \
  "SELECT partition, batch_start, next_offset FROM consumer_offsets "          \
  "WHERE group_id = $1 AND topic = $2 AND partition = ANY ($3::int[])"

/* outcomes of commands decided before (duplicates, redeliveries) */
#define WK_SQL_DUP_EVENTS                                                      \
  "SELECT command_id, project_id, seq, type, actor_id, " WK_US(                \
      "at") ", "                                                               \
            "data::text FROM events WHERE command_id = ANY ($1::uuid[])"

#define WK_SQL_DUP_REJECTIONS                                                  \
  "SELECT command_id, stream_id, project_id, actor_id, code, message "         \
  "FROM rejections "                                                           \
  "WHERE command_id = ANY ($1::uuid[])"

/* --- the batch's transaction --- */
#define WK_SQL_BEGIN_BATCH                                                     \
  "SELECT wt_begin_batch($1, $2, $3::int[], $4::bigint[], $5::bigint[], "      \
  "$6::bigint[], $7::uuid[], $8::uuid[])"

#define WK_SQL_USERS_INSERT                                                    \
  "INSERT INTO users (id, username, display_name, password_hash, is_active, "  \
  "token_version, created_at, seq) SELECT x.id, x.username, x.display_name, "  \
  "x.password_hash, x.is_active, x.token_version, x.created_at, x.seq "        \
  "FROM json_to_recordset($1::json) AS x(id uuid, username text, "             \
  "display_name text, password_hash text, is_active boolean, "                 \
  "token_version integer, created_at timestamptz, seq bigint)"

#define WK_SQL_USERS_UPDATE                                                    \
  "UPDATE users u SET is_active = x.is_active, "                               \
  "token_version = x.token_version, seq = x.seq "                              \
  "FROM json_to_recordset($1::json) AS x(id uuid, is_active boolean, "         \
  "token_version integer, seq bigint) "                                        \
  "WHERE u.id = x.id AND u.id = ANY ($2::uuid[])"

#define WK_SQL_PROJECTS_INSERT                                                 \
  "INSERT INTO projects (id, name, created_by, created_at, seq) "              \
  "SELECT x.id, x.name, x.created_by, x.created_at, x.seq "                    \
  "FROM json_to_recordset($1::json) AS x(id uuid, name text, "                 \
  "created_by uuid, created_at timestamptz, seq bigint)"

#define WK_SQL_PROJECTS_UPDATE                                                 \
  "UPDATE projects p SET name = x.name, seq = x.seq "                          \
  "FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS x(id, name, seq) "     \
  "WHERE p.id = x.id AND p.id = ANY ($1::uuid[])"

#define WK_SQL_MEMBERS_DELETE                                                  \
  "DELETE FROM project_members m USING json_to_recordset($1::json) "           \
  "AS x(project_id uuid, user_id uuid) "                                       \
  "WHERE m.project_id = x.project_id AND m.user_id = x.user_id "               \
  "AND m.project_id = ANY ($2::uuid[])"

#define WK_SQL_MEMBERS_UPSERT                                                  \
  "INSERT INTO project_members (project_id, user_id, role, added_at) "         \
  "SELECT x.project_id, x.user_id, x.role, x.added_at "                        \
  "FROM json_to_recordset($1::json) AS x(project_id uuid, user_id uuid, "      \
  "role text, added_at timestamptz) "                                          \
  "ON CONFLICT (project_id, user_id) DO UPDATE SET role = EXCLUDED.role"

#define WK_SQL_LOGS_INSERT                                                     \
  "INSERT INTO work_logs (id, project_id, user_id, started_at, ended_at, "     \
  "description, version, created_at, updated_at) SELECT * FROM unnest("        \
  "$1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::timestamptz[], " \
  "$6::text[], $7::integer[], $8::timestamptz[], $9::timestamptz[])"

#define WK_SQL_LOGS_UPDATE                                                     \
  "UPDATE work_logs w SET started_at = x.started_at, ended_at = x.ended_at, "  \
  "description = x.description, version = x.version, "                         \
  "updated_at = x.updated_at FROM unnest($1::uuid[], $2::timestamptz[], "      \
  "$3::timestamptz[], $4::text[], $5::integer[], $6::timestamptz[]) AS x(id, " \
  "started_at, ended_at, description, version, updated_at) "                   \
  "WHERE w.id = x.id AND w.id = ANY ($1::uuid[])"

#define WK_SQL_LOGS_DELETE "DELETE FROM work_logs WHERE id = ANY ($1::uuid[])"

/* A log deleted and created again in one batch (rare): every column of
 * the row is the new log's, its author and project included. Columns as
 * logs_insert's. */
#define WK_SQL_LOGS_REPLACE                                                    \
  "UPDATE work_logs w SET project_id = x.project_id, user_id = x.user_id, "    \
  "started_at = x.started_at, ended_at = x.ended_at, "                         \
  "description = x.description, version = x.version, "                         \
  "created_at = x.created_at, updated_at = x.updated_at FROM unnest("          \
  "$1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::timestamptz[], " \
  "$6::text[], $7::integer[], $8::timestamptz[], $9::timestamptz[]) AS x(id, " \
  "project_id, user_id, started_at, ended_at, description, version, "          \
  "created_at, updated_at) WHERE w.id = x.id AND w.id = ANY ($1::uuid[])"

#define WK_SQL_EVENTS_INSERT                                                   \
  "INSERT INTO events (project_id, seq, command_id, type, actor_id, at, "      \
  "data) SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], "          \
  "$4::text[], $5::uuid[], $6::timestamptz[], $7::json[])"

#define WK_SQL_REJECTIONS_INSERT                                               \
  "INSERT INTO rejections (command_id, stream_id, project_id, actor_id, "      \
  "code, message, at) SELECT x.command_id, x.stream_id, x.project_id, "        \
  "x.actor_id, x.code, x.message, x.at FROM json_to_recordset($1::json) AS "   \
  "x(command_id uuid, stream_id uuid, project_id uuid, actor_id uuid, "        \
  "code text, message text, at timestamptz)"

/* Moves the stored batch_start of these partitions up to their
 * next_offset, where the row still holds this worker's position (a
 * partition another worker took over is left alone). */
#define WK_SQL_SETTLE_OFFSETS                                                  \
  "UPDATE consumer_offsets c SET batch_start = u.next_offset, "                \
  "updated_at = now() "                                                        \
  "FROM unnest($3::integer[], $4::bigint[]) AS u(partition, next_offset) "     \
  "WHERE c.group_id = $1 AND c.topic = $2 AND c.partition = u.partition "      \
  "AND c.next_offset = u.next_offset AND c.batch_start < u.next_offset"

#endif
