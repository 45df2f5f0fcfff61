/* gw_sql: every SQL statement the gateway sends, by name. Times come back
 * as bigint microseconds (formatted by wt_time_format, like the worker's
 * events) and go in as RFC 3339 strings. */
#ifndef GW_SQL_H
#define GW_SQL_H

#define GW_US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

/* --- start: the caches, one consistent snapshot --- */
#define GW_SQL_BEGIN_SNAPSHOT "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
#define GW_SQL_LOAD_USERS                                                      \
  "SELECT id, username, display_name, is_active, token_version, seq "          \
  "FROM users ORDER BY id LIMIT $1"
#define GW_SQL_LOAD_MEMBERS                                                    \
  "SELECT m.project_id, m.user_id, m.role, p.seq FROM project_members m "      \
  "JOIN projects p ON p.id = m.project_id"
#define GW_SQL_LOAD_PROJECTS "SELECT id, seq FROM projects ORDER BY id LIMIT $1"
#define GW_SQL_COMMIT "COMMIT"

/* --- login: the one row a password is checked against --- */
#define GW_SQL_LOGIN_USER                                                      \
  "SELECT id, password_hash, is_active, token_version FROM users "             \
  "WHERE username = $1"

#define GW_SQL_PING "SELECT 1"

/* --- reads --- */
#define GW_SQL_PROJECTS                                                        \
  "SELECT p.id, p.name, p.created_by, " GW_US(                                 \
      "p.created_at") ", m.role "                                              \
                      "FROM project_members m JOIN projects p ON p.id = "      \
                      "m.project_id "                                          \
                      "WHERE m.user_id = $1 ORDER BY p.created_at, p.id "      \
                      "LIMIT 10000"

#define GW_SQL_MEMBERS                                                         \
  "SELECT m.user_id, u.username, u.display_name, m.role "                      \
  "FROM project_members m JOIN users u ON u.id = m.user_id "                   \
  "WHERE m.project_id = $1 ORDER BY u.username"

#define GW_LOG_COLS                                                                 \
  "w.id, w.user_id, " GW_US("w.started_at") ", " GW_US(                             \
      "w.ended_at") ", w.description, w.version, " GW_US("w.created_at") ","        \
                                                                         " " GW_US( \
                                                                             "w.updated_at")

/* newest started_at first, keyset over (started_at DESC, id) */
#define GW_SQL_LIST                                                            \
  "SELECT " GW_LOG_COLS " FROM work_logs w WHERE w.project_id = $1 "           \
  "AND ($2::uuid IS NULL OR w.user_id = $2::uuid) "                            \
  "AND ($3::timestamptz IS NULL OR w.started_at >= $3::timestamptz) "          \
  "AND ($4::timestamptz IS NULL OR w.started_at < $4::timestamptz) "           \
  "AND ($5::timestamptz IS NULL OR w.started_at < $5::timestamptz "            \
  "OR (w.started_at = $5::timestamptz AND w.id > $6::uuid)) "                  \
  "ORDER BY w.started_at DESC, w.id LIMIT $7"

/* subscribe: the project's seq and the first page of its logs, read by one
 * statement, so they are one consistent snapshot */
#define GW_SQL_SNAPSHOT                                                        \
  "SELECT p.seq, l.* FROM projects p LEFT JOIN LATERAL (SELECT " GW_LOG_COLS   \
  " FROM work_logs w WHERE w.project_id = p.id "                               \
  "ORDER BY w.started_at DESC, w.id LIMIT $2) l ON true WHERE p.id = $1"

/* subscribe with since: the project's seq, read after the events (in the
 * same round trip), to tell a since from the future */
#define GW_SQL_PROJECT_SEQ "SELECT seq FROM projects WHERE id = $1"

/* events after a seq (subscribe with since, gap fills) */
#define GW_SQL_EVENTS_AFTER                                                    \
  "SELECT seq, type, command_id, actor_id, " GW_US(                            \
      "at") ", data::text "                                                    \
            "FROM events WHERE project_id = $1 AND seq > $2 AND seq < $3 "     \
            "ORDER BY seq LIMIT $4"

#endif
