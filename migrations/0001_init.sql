-- Worktracker schema v1: the contract's tables with their keys, checks and
-- indexes. The worker is the only writer of these tables.

CREATE TABLE users (
  id             uuid PRIMARY KEY,
  username       text NOT NULL UNIQUE
                 CHECK (username ~ '^[a-z0-9_.-]{3,64}$'),
  display_name   text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 200),
  password_hash  text NOT NULL CHECK (char_length(password_hash) BETWEEN 1 AND 512),
  is_active      boolean NOT NULL DEFAULT true,
  token_version  integer NOT NULL DEFAULT 0 CHECK (token_version >= 0),
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projects (
  id          uuid PRIMARY KEY,
  name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  created_by  uuid NOT NULL REFERENCES users (id),
  created_at  timestamptz NOT NULL DEFAULT now(),
  -- the last event's seq: events of a project count 1, 2, 3... with no gaps
  seq         bigint NOT NULL DEFAULT 0 CHECK (seq >= 0)
);

CREATE TABLE project_members (
  project_id  uuid NOT NULL REFERENCES projects (id),
  user_id     uuid NOT NULL REFERENCES users (id),
  role        text NOT NULL CHECK (role IN ('member', 'owner')),
  added_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, user_id)
);
-- "my projects" is read by user
CREATE INDEX project_members_user_idx ON project_members (user_id, project_id);

CREATE TABLE work_logs (
  id           uuid PRIMARY KEY,
  project_id   uuid NOT NULL REFERENCES projects (id),
  user_id      uuid NOT NULL REFERENCES users (id),
  started_at   timestamptz NOT NULL,
  ended_at     timestamptz,
  description  text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
  version      integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CHECK (ended_at IS NULL OR ended_at > started_at)
);
-- list: newest started_at first, keyset over (started_at, id)
CREATE INDEX work_logs_project_started_idx
  ON work_logs (project_id, started_at DESC, id);

CREATE TABLE events (
  project_id  uuid NOT NULL,
  seq         bigint NOT NULL CHECK (seq >= 1),
  command_id  uuid NOT NULL UNIQUE,
  type        text NOT NULL,
  actor_id    uuid,            -- NULL: the system
  at          timestamptz NOT NULL DEFAULT now(),
  data        jsonb NOT NULL,
  PRIMARY KEY (project_id, seq)
);
