#!/usr/bin/env python3
"""Chaos test of wt-worker's exactly-once promise (issue 11, item 3).

A known stream of commands goes to <prefix>.commands on a private stack (PostgreSQL and a
real Apache Kafka broker in a state folder of its own, started by deploy/local/*.sh), while
the faults of the schedule hit the workers, PostgreSQL and the broker. Then PostgreSQL and
<prefix>.events are compared with what the generator's model expects.

Where to look:
  Model, decide()          the expected outcome of every command (mirrors common/wt_rules.c
                           for the commands generated here) and the expected final rows
  Generator                the stream: users, projects, members, logs, ~1 % rejects of known
                           codes, ~1 % redeliveries (the same bytes again, near or far)
  fault_schedule()         what happens when: worker SIGKILLs, a second worker, a freeze
                           (SIGSTOP/SIGCONT), PostgreSQL restarts, a broker SIGKILL
  check_database(), check_outcomes()   the checks; failover_report() the measured times

Only the Python standard library (ctypes for librdkafka, which the project links), kcat
(Debian package `kcat`, to read the topics back) and psql.

  tests/chaos/chaos.py --worker BIN --admin BIN [--commands 50000] [--duration 300]
                       [--var DIR] [--seed N]
Exit status: 0 all checks passed, 1 a check failed, 2 the test itself could not run.
"""

import argparse
import collections
import csv
import ctypes
import ctypes.util
import datetime
import hashlib
import hmac
import io
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEPLOY = os.path.join(REPO, "deploy", "local")
BASE_TIME = 1767225600  # 2026-01-01T00:00:00Z: the work logs' times start here


def log(msg):
    print(f"chaos {time.strftime('%H:%M:%S')} {msg}", flush=True)


class TestError(Exception):
    """The test could not run (not a finding about the worker)."""


def iso(epoch_s):
    return datetime.datetime.fromtimestamp(epoch_s, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def parse_log_time(text):
    """A wt_log timestamp (2026-11-27T21:15:23.336Z) as epoch seconds."""
    d = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return d.replace(tzinfo=datetime.timezone.utc).timestamp()


# --- the model: what every command must do -----------------------------------------------


class Project:
    def __init__(self, pid, name):
        self.id = pid
        self.name = name
        self.created = False
        self.members = {}  # user id -> "owner" | "member"
        self.seq = 0  # applied events so far


class Log:
    def __init__(self, lid, project_id, user_id, started, ended, description):
        self.id = lid
        self.project_id = project_id
        self.user_id = user_id
        self.started = started
        self.ended = ended  # None: a running timer
        self.description = description
        self.version = 1


class Model:
    """The state the worker must end with, and each command's expected outcome.

    decide() follows common/wt_rules.c's order of checks for the commands the generator
    makes: payload, actor, project and membership (not_found), role or authorship
    (forbidden), state (conflict), merged span (invalid)."""

    MAX_LOG_SECONDS = 86400

    def __init__(self):
        self.users = {}  # id -> {"username", "seq"}
        self.projects = {}  # id -> Project
        self.logs = {}  # id -> Log (the live ones)
        self.logs_of = collections.defaultdict(dict)  # (project, author) -> {id: Log}
        self.outcome = {}  # command id -> ("applied", event type) | ("rejected", code)

    def decide(self, cmd):
        """The outcome of cmd's first delivery; applies it to the model."""
        t = cmd["type"]
        p = cmd.get("payload", {})
        if t.startswith("user."):
            out = self._user(cmd, p)
        else:
            out = self._project_command(cmd, p)
        self.outcome[cmd["command_id"]] = out
        return out

    def _user(self, cmd, p):
        uid = cmd["user_id"]
        u = self.users.get(uid)
        if cmd["type"] == "user.create":
            if u is not None:
                return ("rejected", "conflict")
            self.users[uid] = {"username": p["username"], "seq": 1}
            return ("applied", "user.created")
        if u is None:
            return ("rejected", "not_found")
        u["seq"] += 1
        return ("applied", "user.tokens_revoked")  # the only other user.* generated

    def _span_ok(self, started, ended):
        return ended is None or (ended > started and ended - started <= self.MAX_LOG_SECONDS)

    def _project_command(self, cmd, p):
        t, actor, pid = cmd["type"], cmd["actor_id"], cmd["project_id"]
        proj = self.projects[pid]
        if t == "project.create":
            if actor not in self.users:
                return ("rejected", "forbidden")
            if proj.created:
                return ("rejected", "conflict")
            proj.created = True
            proj.name = p["name"]
            proj.members[actor] = "owner"
            return self._applied(proj, "project.created")
        me = proj.members.get(actor) if proj.created else None
        if me is None:
            return ("rejected", "not_found")
        if t == "project.rename":
            if me != "owner":
                return ("rejected", "forbidden")
            proj.name = p["name"]
            return self._applied(proj, "project.renamed")
        if t == "member.add":
            if me != "owner":
                return ("rejected", "forbidden")
            target = p["user_id"]
            if target not in self.users:
                return ("rejected", "not_found")
            old = proj.members.get(target)
            if old == p["role"]:
                return ("rejected", "conflict")
            if old == "owner" and self._owners(proj) <= 1:
                return ("rejected", "conflict")
            proj.members[target] = p["role"]
            return self._applied(proj, "member.added")
        if t == "member.remove":
            target = p["user_id"]
            old = proj.members.get(target)
            if old is None:
                return ("rejected", "not_found")
            if me != "owner" and target != actor:
                return ("rejected", "forbidden")
            if old == "owner" and self._owners(proj) <= 1:
                return ("rejected", "conflict")
            del proj.members[target]
            return self._applied(proj, "member.removed")
        if t == "log.create":
            if p["log_id"] in self.logs:
                return ("rejected", "conflict")
            started, ended = p["started_at"], p.get("ended_at")
            if not self._span_ok(started, ended):
                return ("rejected", "invalid")
            lg = Log(p["log_id"], pid, actor, started, ended, p.get("description", ""))
            self.logs[lg.id] = lg
            self.logs_of[(pid, actor)][lg.id] = lg
            return self._applied(proj, "log.created")
        # log.update, log.delete
        lg = self.logs.get(p["log_id"])
        if lg is None or lg.project_id != pid:
            return ("rejected", "not_found")
        if lg.user_id != actor:
            return ("rejected", "forbidden")
        if "expected_version" in p and p["expected_version"] != lg.version:
            return ("rejected", "conflict")
        if t == "log.delete":
            del self.logs[lg.id]
            del self.logs_of[(pid, actor)][lg.id]
            return self._applied(proj, "log.deleted")
        started = p.get("started_at", lg.started)
        ended = p["ended_at"] if "ended_at" in p else lg.ended
        if not self._span_ok(started, ended):
            return ("rejected", "invalid")
        lg.started, lg.ended = started, ended
        if "description" in p:
            lg.description = p["description"]
        lg.version += 1
        return self._applied(proj, "log.updated")

    @staticmethod
    def _owners(proj):
        return sum(1 for r in proj.members.values() if r == "owner")

    @staticmethod
    def _applied(proj, event_type):
        proj.seq += 1
        return ("applied", event_type)


# --- the generator: the known stream ---------------------------------------------------------

DESCRIPTIONS = ["design review", "café ☕ with the client", "on-call: \"disk full\" \\ fixed",
                "日本語のレビュー", "bug 🐛 hunt", "tabs\tand\nnewlines", "", "planning"]


class Generator:
    """Makes the stream. Each message is (key, value bytes, command id); the model decides
    every command at its first delivery. A redelivery is an earlier message's exact bytes.

    Rejects (~reject_rate) are made on purpose with a code the model is sure of:
      forbidden   a member updates another member's log
      invalid     a log.create whose ended_at is not after its started_at
      conflict    a log.update with a stale expected_version
      not_found   a log.create by a user who is not a member of the project"""

    def __init__(self, rng, n_users, n_projects, prefix, reject_rate=0.0125,
                 redeliver_rate=0.01):
        self.rng = rng
        self.model = Model()
        self.prefix = prefix
        self.reject_rate = reject_rate
        self.redeliver_rate = redeliver_rate
        self.user_ids = [self._uuid() for _ in range(n_users)]
        self.project_ids = [self._uuid() for _ in range(n_projects)]
        for i, pid in enumerate(self.project_ids):
            self.model.projects[pid] = Project(pid, f"chaos project {i}")
        self.sent = []  # every message produced, in order: (key, value, command id, type)
        self.applied_creates = []  # the messages of applied log.create / project.create
        self.first_index = {}  # command id -> index in sent of its first delivery
        self.resent_at = collections.defaultdict(list)  # command id -> indices of redeliveries
        self.creator = {}  # log or project id -> the command id of its create
        self.depends_on = {}  # log command id -> the create it needs
        self.intended_rejects = collections.Counter()
        self.redeliveries = 0
        self.redelivered_creates_with_dependent = 0
        self.clock = BASE_TIME

    def _uuid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _emit(self, cmd, key, intended=None):
        cmd["v"] = 1
        cmd["command_id"] = self._uuid()
        cmd["issued_at"] = iso(time.time())
        cmd["origin"] = "chaos"
        out = self.model.decide(cmd)
        if intended is not None:
            assert out == ("rejected", intended), (cmd, out, intended)
            self.intended_rejects[intended] += 1
        else:
            assert out[0] == "applied", (cmd, out)
        # JSON times: the model keeps epoch seconds
        wire = json.loads(json.dumps(cmd))
        for k in ("started_at", "ended_at"):
            if isinstance(wire.get("payload", {}).get(k), int):
                wire["payload"][k] = iso(wire["payload"][k])
        value = json.dumps(wire, ensure_ascii=False, separators=(",", ":")).encode()
        msg = (key, value, cmd["command_id"], cmd["type"])
        self.first_index[cmd["command_id"]] = len(self.sent)
        self.sent.append(msg)
        p = cmd.get("payload", {})
        if cmd["type"] in ("log.create", "project.create") and out[0] == "applied":
            self.applied_creates.append(msg)
            self.creator[p.get("log_id") or cmd["project_id"]] = cmd["command_id"]
        if cmd["type"].startswith("log."):
            # what it needs: its log's create, or for a log.create its project's
            thing = p["log_id"] if cmd["type"] != "log.create" else cmd["project_id"]
            if thing in self.creator:
                self.depends_on[cmd["command_id"]] = self.creator[thing]
        return msg

    # - user.* -

    def user_creates(self):
        """user.create as system, one per user (sent before the rest, see main)."""
        out = []
        for i, uid in enumerate(self.user_ids):
            out.append(self._emit({
                "type": "user.create", "actor_id": "system", "user_id": uid,
                "payload": {"user_id": uid, "username": f"{self.prefix}-u{i}",
                            "display_name": f"Chaos User {i}",
                            "password_hash": "$chaos$not-a-real-hash"}}, uid))
        return out

    def _project_cmd(self, t, actor, pid, payload, intended=None):
        return self._emit({"type": t, "actor_id": actor, "project_id": pid,
                           "payload": payload}, pid, intended)

    # - the stream -

    def next_messages(self):
        """The next step of the stream: one command, sometimes followed by a redelivery
        (and, after a redelivered create, a command that depends on what it created)."""
        msgs = [self._next_command()]
        if self.rng.random() < self.redeliver_rate:
            msgs += self._redelivery()
        return msgs

    def _created(self):
        return [self.model.projects[p] for p in self.project_ids if self.model.projects[p].created]

    def _next_command(self):
        rng, m = self.rng, self.model
        created = self._created()
        pending = [m.projects[p] for p in self.project_ids if not m.projects[p].created]
        if pending and (not created or rng.random() < 0.02):
            proj = pending[0]
            return self._project_cmd("project.create", rng.choice(self.user_ids), proj.id,
                                     {"name": proj.name})
        if rng.random() < self.reject_rate:
            msg = self._reject()
            if msg:
                return msg
        proj = rng.choice(created)
        owners = [u for u, r in proj.members.items() if r == "owner"]
        outsiders = [u for u in self.user_ids if u not in proj.members]
        r = rng.random()
        if outsiders and (len(proj.members) < 3 or r < 0.02):
            return self._project_cmd("member.add", rng.choice(owners), proj.id,
                                     {"user_id": rng.choice(outsiders),
                                      "role": "owner" if rng.random() < 0.2 else "member"})
        if r < 0.03:
            return self._project_cmd("project.rename", rng.choice(owners), proj.id,
                                     {"name": f"{proj.name.split(' #')[0]} #{rng.randrange(1000)}"})
        if r < 0.035:
            removable = [u for u, role in proj.members.items()
                         if role == "member" or len(owners) > 1]
            if len(proj.members) > 3 and removable:
                target = rng.choice(removable)
                actor = target if rng.random() < 0.3 else rng.choice(owners)
                return self._project_cmd("member.remove", actor, proj.id, {"user_id": target})
        if r < 0.037:
            uid = rng.choice(self.user_ids)
            return self._emit({"type": "user.revoke_tokens", "actor_id": "system",
                               "user_id": uid, "payload": {"user_id": uid}}, uid)
        actor = rng.choice(list(proj.members))
        mine = list(m.logs_of[(proj.id, actor)].values())
        r = rng.random()
        if mine and r < 0.28:
            return self._log_update(rng.choice(mine))
        if mine and r < 0.40:
            lg = rng.choice(mine)
            payload = {"log_id": lg.id}
            if rng.random() < 0.3:
                payload["expected_version"] = lg.version
            return self._project_cmd("log.delete", lg.user_id, lg.project_id, payload)
        return self._log_create(proj.id, actor)

    def _log_create(self, pid, actor, intended=None):
        rng = self.rng
        self.clock += rng.randrange(60, 3600)
        started = self.clock
        if intended == "invalid":
            ended = started - rng.choice([0, 1, 3600])
        elif rng.random() < 0.05:
            ended = None
        else:
            ended = started + rng.randrange(60, 8 * 3600)
        payload = {"log_id": self._uuid(), "started_at": started, "ended_at": ended,
                   "description": rng.choice(DESCRIPTIONS)}
        if rng.random() < 0.1:
            payload["user_id"] = actor  # naming oneself is allowed
        return self._project_cmd("log.create", actor, pid, payload, intended)

    def _log_update(self, lg, actor=None, intended=None):
        rng = self.rng
        payload = {"log_id": lg.id}
        what = rng.random()
        if what < 0.4:
            payload["description"] = rng.choice(DESCRIPTIONS) + f" v{lg.version + 1}"
        elif what < 0.7:
            payload["ended_at"] = lg.started + rng.randrange(60, 10 * 3600)
        elif what < 0.85:
            payload["started_at"] = (lg.ended or lg.started + 7200) - rng.randrange(60, 7200)
        else:
            payload["ended_at"] = None if lg.ended is not None else lg.started + 1800
        if intended == "conflict":
            payload["expected_version"] = lg.version - 1 if lg.version > 1 else lg.version + 1
        elif rng.random() < 0.3:
            payload["expected_version"] = lg.version
        return self._project_cmd("log.update", actor or lg.user_id, lg.project_id, payload,
                                 intended)

    def _reject(self):
        """One command rejected on purpose with a code the model is sure of; None when the
        state offers no case of the kind drawn."""
        rng, m = self.rng, self.model
        kind = rng.choice(["forbidden", "invalid", "conflict", "not_found"])
        created = self._created()
        proj = rng.choice(created)
        if kind == "invalid":
            return self._log_create(proj.id, rng.choice(list(proj.members)), "invalid")
        if kind == "not_found":
            outsiders = [u for u in self.user_ids if u not in proj.members]
            if not outsiders:
                return None
            return self._log_create(proj.id, rng.choice(outsiders), "not_found")
        authors = [u for u in self.user_ids if m.logs_of[(proj.id, u)]]
        if kind == "conflict":
            authors = [u for u in authors if u in proj.members]
            if not authors:
                return None
            lg = rng.choice(list(m.logs_of[(proj.id, rng.choice(authors))].values()))
            return self._log_update(lg, intended="conflict")
        others = [(a, u) for a in authors for u in proj.members if u != a]
        if not others:
            return None
        author, actor = rng.choice(others)
        lg = rng.choice(list(m.logs_of[(proj.id, author)].values()))
        return self._log_update(lg, actor=actor, intended="forbidden")

    def _redelivery(self):
        """An earlier message again, byte for byte: right after it (one of the last few) or
        far later (anywhere before). A redelivered create is often followed at once by a
        command that depends on what it created."""
        rng = self.rng
        if rng.random() < 0.35:
            old = rng.choice(self.sent[-4:])
        elif rng.random() < 0.5:
            old = rng.choice(self.applied_creates)
        else:
            old = rng.choice(self.sent)
        self.redeliveries += 1
        self.resent_at[old[2]].append(len(self.sent))
        self.sent.append(old)
        out = [old]
        dep = self._dependent(old) if rng.random() < 0.6 else None
        if dep:
            self.redelivered_creates_with_dependent += 1
            out.append(dep)
        return out

    def after_redelivered_create(self, cid):
        """Whether the create that cid needs was redelivered before cid was sent."""
        dep = self.depends_on.get(cid)
        return dep is not None and any(i < self.first_index[cid] for i in self.resent_at[dep])

    def write_stream(self, path):
        """The stream as sent, one line a message: index, command id, type, key, expected
        outcome, and for a redelivery the index of its first delivery."""
        with open(path, "w") as f:
            for i, (key, _, cid, t) in enumerate(self.sent):
                first = self.first_index[cid]
                kind, what = self.model.outcome[cid]
                again = "" if first == i else f"\tredelivery of {first}"
                f.write(f"{i}\t{cid}\t{t}\t{key}\t{kind} {what}{again}\n")

    def _dependent(self, old):
        """A valid command that needs what old created, or None."""
        m, rng = self.model, self.rng
        cmd = json.loads(old[1])
        if m.outcome[cmd["command_id"]][0] != "applied":
            return None
        if cmd["type"] == "project.create":
            proj = m.projects[cmd["project_id"]]
            return self._log_create(proj.id, rng.choice(list(proj.members)))
        if cmd["type"] == "log.create":
            lg = m.logs.get(cmd["payload"]["log_id"])
            if lg is None or lg.user_id not in m.projects[lg.project_id].members:
                return None
            if rng.random() < 0.8:
                return self._log_update(lg)
            return self._project_cmd("log.delete", lg.user_id, lg.project_id, {"log_id": lg.id})
        return None


# --- the private stack -----------------------------------------------------------------------


class Stack:
    """PostgreSQL and Apache Kafka in a state folder of their own (deploy/local/*.sh)."""

    def __init__(self, var):
        self.var = var
        self.env = dict(os.environ, WT_VAR_DIR=var, WT_BROKER="kafka")
        for k in ("WT_DATABASE_URL", "WT_KAFKA_BROKERS", "WT_STACK_LOCKED"):
            self.env.pop(k, None)
        self.db_url = None
        self.brokers = None

    def _script(self, name, *args, check=True):
        r = subprocess.run([os.path.join(DEPLOY, name), *args], env=self.env,
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise TestError(f"{name} {' '.join(args)} failed:\n{r.stdout}{r.stderr}")
        return r

    def start(self):
        self._script("stack.sh", "start")
        env = {}
        with open(os.path.join(self.var, "stack.env")) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("=")
                env[k] = shlex.split(v)[0] if v else ""  # printf %q quoting
        self.stack_env = env
        self.db_url, self.brokers = env["WT_DATABASE_URL"], env["WT_KAFKA_BROKERS"]
        if not env.get("WT_STACK_KAFKA", "").startswith("apache-kafka"):
            raise TestError(f"not an Apache Kafka broker: {env.get('WT_STACK_KAFKA')}")
        log(f"stack: {env['WT_STACK_POSTGRES']} at {self.db_url}, "
            f"{env['WT_STACK_KAFKA']} at {self.brokers}, state {self.var}")

    def stop(self):
        self._script("stack.sh", "stop", check=False)

    IDENTITY = re.compile(r"WT_(KAFKA_(SECURITY_PROTOCOL|SASL_MECHANISM|USER|PASSWORD_FILE)|"
                          r"PRODUCER_(ID|KEY_FILE|KEYS_FILE))$")

    def identity(self, program):
        """The environment that runs program as itself: its Kafka principal and password
        file, its producer key, the worker's trusted keys, as `stack.sh env --for` gives
        them (without the service addresses, which the caller sets)."""
        env = {}
        for line in self._script("stack.sh", "env", "--for", program).stdout.splitlines():
            k, _, v = line.partition("=")
            if self.IDENTITY.match(k):
                env[k] = shlex.split(v)[0] if v else ""
        return env

    def librdkafka_conf(self, program):
        """librdkafka settings that connect as program's Kafka principal."""
        ident = self.identity(program)
        conf = {"security.protocol": ident.get("WT_KAFKA_SECURITY_PROTOCOL", "plaintext")}
        if "WT_KAFKA_USER" in ident:
            with open(ident["WT_KAFKA_PASSWORD_FILE"]) as f:
                password = f.read().rstrip("\n")
            conf.update({"sasl.mechanisms": ident["WT_KAFKA_SASL_MECHANISM"],
                         "sasl.username": program, "sasl.password": password})
        return conf

    def signer(self, program):
        """(producer id, key bytes) that program signs commands with, or None."""
        ident = self.identity(program)
        if "WT_PRODUCER_KEY_FILE" not in ident:
            return None
        with open(ident["WT_PRODUCER_KEY_FILE"]) as f:
            return program, bytes.fromhex(f.read().strip())

    def psql(self, sql, tries=120):
        """psql's unaligned output; retried while PostgreSQL restarts."""
        err = ""
        for _ in range(tries):
            r = subprocess.run(["psql", self.db_url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                                "-c", sql], capture_output=True, text=True)
            if r.returncode == 0:
                return r.stdout
            err = r.stderr
            time.sleep(0.5)
        raise TestError(f"psql failed: {err}")

    def copy_csv(self, query):
        out = self.psql(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)")
        return list(csv.reader(io.StringIO(out)))

    # - faults -

    def pg_restart(self, mode):
        """Stops PostgreSQL (fast: pg.sh stop; immediate: pg_ctl -m immediate, crash
        recovery at the next start) and starts it again on the same port."""
        t = time.time()
        if mode == "fast":
            self._script("pg.sh", "stop")
        else:
            data = os.path.join(os.path.realpath(os.path.join(self.var, "pg")), "data")
            bins = sorted((d for d in os.listdir("/usr/lib/postgresql") if d.isdigit()), key=int)
            pg_ctl = [f"/usr/lib/postgresql/{bins[-1]}/bin/pg_ctl", "stop", "-D", data,
                      "-m", "immediate", "-w", "-s"]
            if os.geteuid() == 0:
                pg_ctl = ["runuser", "-u", "postgres", "--"] + pg_ctl
            r = subprocess.run(pg_ctl, capture_output=True, text=True)
            if r.returncode != 0:
                raise TestError(f"pg_ctl stop -m immediate failed: {r.stderr}")
        down = time.time()
        self._script("pg.sh", "start")
        return down - t, time.time() - down

    def kafka_kill(self):
        with open(os.path.join(self.var, "kafka", "kafka.pid")) as f:
            pid = int(f.read().split()[0])
        os.kill(pid, signal.SIGKILL)
        while os.path.exists(f"/proc/{pid}"):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        break
            except OSError:
                break
            time.sleep(0.05)

    def kafka_start(self):
        t = time.time()
        self._script("kafka.sh", "start")
        with open(os.path.join(self.var, "kafka", "env")) as f:
            brokers = f.readline().strip().partition("=")[2]
        if brokers != self.brokers:
            raise TestError(f"the broker came back on {brokers}, not {self.brokers}")
        return time.time() - t


# --- the workers -------------------------------------------------------------------------------

ASSIGNED = re.compile(r"^(\S+Z) INFO \S+ partition assigned partition=(\d+)")
REVOKED = re.compile(r"^(\S+Z) INFO \S+ partition revoked partition=(\d+)")


class Worker:
    """One wt-worker identity (A or B); each start is a new incarnation with its own log."""

    def __init__(self, name, binary, env, logdir):
        self.name, self.binary, self.logdir = name, binary, logdir
        # WT_WORKER_ID: static group membership, where the worker supports it; the
        # restarted worker keeps its id.
        self.env = dict(env, WT_WORKER_ID=f"chaos-{name}")
        self.proc = None
        self.incarnation = 0
        self.started_at = None
        self.frozen = False
        self.unexpected_exits = []

    @property
    def label(self):
        return f"{self.name}.{self.incarnation}"

    def log_path(self, incarnation=None):
        return os.path.join(self.logdir, f"worker-{self.name}.{incarnation or self.incarnation}.log")

    def start(self):
        self.incarnation += 1
        out = open(self.log_path(), "wb")
        self.started_at = time.time()
        self.proc = subprocess.Popen([self.binary], env=self.env, stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        out.close()
        return self.incarnation

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self):
        """A worker that exited by itself is a finding: noted, then started again."""
        if self.proc is not None and not self.alive():
            self.unexpected_exits.append((self.label, self.proc.returncode))
            log(f"worker {self.label} exited by itself, status {self.proc.returncode}")
            self.start()

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.frozen = False

    def freeze(self):
        self.proc.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self):
        self.proc.send_signal(signal.SIGCONT)
        self.frozen = False

    def stop(self):
        """SIGTERM, as an operator stops it: the exit status (None: killed after 60 s)."""
        if not self.alive():
            return self.proc.returncode if self.proc else 0
        if self.frozen:
            self.thaw()
        # its signal handlers are set before it logs "worker started": wait for that line
        # (a polled deadline, however loaded the machine), not for a fixed time
        deadline = time.time() + 60
        while time.time() < deadline and self.alive():
            with open(self.log_path(), "rb") as f:
                if b"worker started" in f.read():
                    break
            time.sleep(0.05)
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def partition_lines(self, incarnation):
        """[(time, "assigned"|"revoked", partition)] from that incarnation's log."""
        out = []
        try:
            with open(self.log_path(incarnation), errors="replace") as f:
                for line in f:
                    for kind, rx in (("assigned", ASSIGNED), ("revoked", REVOKED)):
                        mt = rx.match(line)
                        if mt:
                            out.append((parse_log_time(mt.group(1)), kind, int(mt.group(2))))
        except FileNotFoundError:
            pass
        return out


def assignment_at(lines, t):
    parts = set()
    for ts, kind, p in lines:
        if ts > t:
            break
        (parts.add if kind == "assigned" else parts.discard)(p)
    return parts


def takeover_time(lines, t0, wanted):
    """Seconds from t0 until the partitions in wanted are all assigned in lines."""
    have = assignment_at(lines, t0)
    if wanted <= have:
        return 0.0
    for ts, kind, p in lines:
        if ts <= t0:
            continue
        (have.add if kind == "assigned" else have.discard)(p)
        if wanted <= have:
            return ts - t0
    return None


# --- the fault schedule -------------------------------------------------------------------------


def fault_schedule(rng, duration, kills):
    """[(seconds after the stream starts, action, argument)], sorted.

    Over the stream: `kills` SIGKILLs of a worker drawn at random (restarted at once; one of
    them only once the survivor took over its partitions), a second worker joining, a freeze
    of one worker (SIGSTOP, SIGCONT 15 s later), PostgreSQL restarted twice (fast, then
    immediate stop: crash recovery) and the broker SIGKILLed and restarted. Each time gets
    a random jitter; an action runs late when the one before it took longer."""
    d = duration
    plan = [
        (0.04, "kill_worker", "restart"),  # A alone: its restart to its first assignment
        (0.10, "start_second_worker", None),
        (0.30, "freeze_worker", 15.0),
        (0.48, "pg_restart", "fast"),
        (0.55, "kill_worker", "after_takeover"),
        (0.66, "kafka_kill", 4.0),
        (0.86, "pg_restart", "immediate"),
    ]
    more = [0.20, 0.76, 0.92, 0.40, 0.63, 0.82, 0.96, 0.25, 0.71]
    plan += [(t, "kill_worker", "restart") for t in more[:max(kills - 2, 0)]]
    jittered = [(max(1.0, (t + rng.uniform(-0.015, 0.015)) * d), a, arg) for t, a, arg in plan]
    return sorted(jittered, key=lambda x: x[0])


class FaultRunner(threading.Thread):
    """Runs the schedule against the stack and the workers; records what it did."""

    def __init__(self, rng, schedule, stack, workers, t0, partitions):
        super().__init__(daemon=True)
        self.partitions = partitions
        self.rng, self.schedule, self.stack, self.workers, self.t0 = rng, schedule, stack, workers, t0
        self.lock = threading.Lock()
        self.restarts = []  # (worker, incarnation, start time, cause)
        self.takeovers = []  # (cause, victim label, victim partitions, survivor, survivor inc, t0)
        self.notes = []
        self.error = None
        self.kills = 0

    def note(self, text):
        self.notes.append(text)
        log(text)

    def running(self):
        return [w for w in self.workers if w.alive()]

    def run(self):
        try:
            for at, action, arg in self.schedule:
                while time.time() < self.t0 + at:
                    time.sleep(0.1)
                    for w in self.workers:
                        if w.proc is not None and not w.frozen:
                            w.check_alive()
                getattr(self, action)(arg)
        except Exception as e:  # noqa: BLE001 - reported by main
            self.error = e

    def start_second_worker(self, _):
        w = self.workers[1]
        inc = w.start()
        self.restarts.append((w, inc, w.started_at, "joins"))
        self.note(f"fault: second worker {w.label} started")

    def holding(self, w):
        return assignment_at(w.partition_lines(w.incarnation), time.time())

    def wait_settled(self, timeout):
        """Until every running worker holds partitions and together they hold all of
        them (after a join or a restart the group takes a while); False on timeout."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            held = [self.holding(w) for w in self.running() if not w.frozen]
            if held and all(held) and set().union(*held) >= set(range(self.partitions)):
                return True
            time.sleep(0.2)
        return False

    def kill_worker(self, mode):
        victims = [w for w in self.running() if not w.frozen]
        if mode == "after_takeover" and len(victims) > 1:
            # a victim with partitions and a survivor to take them over
            if not self.wait_settled(40):
                self.note("fault: the group did not settle within 40 s")
            victims = [w for w in victims if self.holding(w)] or victims
        w = self.rng.choice(victims)
        survivors = [s for s in self.running() if s is not w and not s.frozen]
        parts = self.holding(w)
        t = time.time()
        w.kill()
        self.kills += 1
        self.note(f"fault: SIGKILL worker {w.label} (kill #{self.kills}, held partitions "
                  f"{sorted(parts)})")
        if mode == "after_takeover" and survivors:
            self.takeovers.append(("killed", w.label, parts, survivors[0],
                                   survivors[0].incarnation, t))
            s = survivors[0]
            deadline = time.time() + 60
            while time.time() < deadline and takeover_time(
                    s.partition_lines(s.incarnation), t, parts) is None:
                time.sleep(0.2)
        inc = w.start()
        self.restarts.append((w, inc, w.started_at, f"after SIGKILL #{self.kills}"))

    def freeze_worker(self, seconds):
        running = [w for w in self.running() if not w.frozen]
        if len(running) < 2:
            self.note("fault: freeze skipped, only one worker runs")
            return
        if not self.wait_settled(40):
            self.note("fault: the group did not settle within 40 s")
        w = self.rng.choice([x for x in running if self.holding(x)] or running)
        s = next(x for x in running if x is not w)
        parts = self.holding(w)
        t = time.time()
        w.freeze()
        self.takeovers.append(("frozen", w.label, parts, s, s.incarnation, t))
        self.note(f"fault: SIGSTOP worker {w.label} for {seconds:.0f} s (held partitions "
                  f"{sorted(parts)})")
        time.sleep(seconds)
        w.thaw()
        self.note(f"fault: SIGCONT worker {w.label}")

    def pg_restart(self, mode):
        stop_s, start_s = self.stack.pg_restart(mode)
        self.note(f"fault: PostgreSQL restarted ({mode} stop {stop_s:.1f} s, start {start_s:.1f} s)")

    def kafka_kill(self, down):
        self.stack.kafka_kill()
        self.note(f"fault: SIGKILL the Kafka broker, down for {down:.0f} s")
        time.sleep(down)
        took = self.stack.kafka_start()
        self.note(f"fault: Kafka broker restarted (start took {took:.1f} s)")


# --- producing and consuming with kcat ----------------------------------------------------------


class _VuMem(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_void_p), ("size", ctypes.c_size_t)]


class _VuHeader(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("val", ctypes.c_void_p), ("size", ctypes.c_ssize_t)]


class _VuUnion(ctypes.Union):  # padded to 64 bytes, as librdkafka's
    _fields_ = [("cstr", ctypes.c_char_p), ("i", ctypes.c_int), ("mem", _VuMem),
                ("header", _VuHeader), ("pad", ctypes.c_char * 64)]


class _Vu(ctypes.Structure):  # rd_kafka_vu_t (rd_kafka_produceva's array)
    _fields_ = [("vtype", ctypes.c_int), ("u", _VuUnion)]


class Producer:
    """The stream's one producer: librdkafka itself through ctypes (Debian's librdkafka1, the
    library the project links), idempotent with acks=all, so each key keeps its order across
    the broker's restart; message.timeout.ms outlasts the restart. Not kcat -P: it reads its
    input in blocks (lines wait until EOF) and exits when every broker is down."""

    class _Message(ctypes.Structure):  # the head of rd_kafka_message_t
        _fields_ = [("err", ctypes.c_int)]

    _Mem, _Header, _VU = _VuMem, _VuHeader, _Vu
    # rd_kafka_vtype_t
    V_END, V_TOPIC, V_VALUE, V_KEY, V_MSGFLAGS, V_HEADER = 0, 1, 4, 5, 7, 9
    _DR = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_Message), ctypes.c_void_p)
    _LOG = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p)
    QUEUE_FULL = -184
    MSG_F_COPY = 0x2

    def __init__(self, brokers, topic, logdir, conf_extra, signer):
        """conf_extra: librdkafka settings (the SASL login); signer: (producer id, key) that
        signs every message as ingest/ing_producer does (common/wt_sign.h), or None."""
        lib = ctypes.CDLL(ctypes.util.find_library("rdkafka") or "librdkafka.so.1")
        lib.rd_kafka_conf_new.restype = ctypes.c_void_p
        lib.rd_kafka_conf_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                          ctypes.c_char_p, ctypes.c_size_t]
        lib.rd_kafka_conf_set_dr_msg_cb.argtypes = [ctypes.c_void_p, self._DR]
        lib.rd_kafka_conf_set_log_cb.argtypes = [ctypes.c_void_p, self._LOG]
        lib.rd_kafka_new.restype = ctypes.c_void_p
        lib.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p,
                                     ctypes.c_size_t]
        lib.rd_kafka_produceva.restype = ctypes.c_void_p
        lib.rd_kafka_produceva.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        lib.rd_kafka_error_code.restype = ctypes.c_int
        lib.rd_kafka_error_code.argtypes = [ctypes.c_void_p]
        lib.rd_kafka_error_destroy.argtypes = [ctypes.c_void_p]
        lib.rd_kafka_poll.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.rd_kafka_flush.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.rd_kafka_outq_len.argtypes = [ctypes.c_void_p]
        lib.rd_kafka_err2str.restype = ctypes.c_char_p
        lib.rd_kafka_destroy.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.delivered = 0
        self.failed = collections.Counter()
        self.logfile = open(os.path.join(logdir, "producer.log"), "a")
        self._dr = self._DR(self._on_delivery)  # kept: librdkafka holds the pointers
        self._log = self._LOG(self._on_log)
        errstr = ctypes.create_string_buffer(512)
        conf = lib.rd_kafka_conf_new()
        for k, v in {"bootstrap.servers": brokers, "enable.idempotence": "true",
                     "acks": "all", "linger.ms": "5", "message.timeout.ms": "600000",
                     "client.id": "wt-chaos", **conf_extra}.items():
            if lib.rd_kafka_conf_set(conf, k.encode(), v.encode(), errstr, 512) != 0:
                raise TestError(f"librdkafka {k}={v}: {errstr.value.decode()}")
        lib.rd_kafka_conf_set_dr_msg_cb(conf, self._dr)
        lib.rd_kafka_conf_set_log_cb(conf, self._log)
        self.rk = lib.rd_kafka_new(0, conf, errstr, 512)  # 0: RD_KAFKA_PRODUCER
        if not self.rk:
            raise TestError(f"rd_kafka_new: {errstr.value.decode()}")
        self.topic = topic.encode()
        self.signer = signer

    def _on_delivery(self, _rk, msg, _opaque):
        err = msg.contents.err
        if err:
            self.failed[self.lib.rd_kafka_err2str(err).decode()] += 1
        else:
            self.delivered += 1

    def _on_log(self, _rk, level, fac, buf):  # librdkafka's threads: only a line written
        self.logfile.write(f"{time.strftime('%H:%M:%S')} {level} {fac.decode()} "
                           f"{buf.decode(errors='replace')}\n")

    def _vus(self, key, value):
        """The message as rd_kafka_vu_t[]: topic, key, value, copy flag, signature headers."""
        items = [(self.V_TOPIC, "cstr", self.topic), (self.V_KEY, "mem", (key, len(key))),
                 (self.V_VALUE, "mem", (value, len(value))),
                 (self.V_MSGFLAGS, "i", self.MSG_F_COPY)]
        if self.signer:
            pid, secret = self.signer
            mac = hmac.new(secret, b"wt-command-v1\0" + pid.encode() + b"\0" + key + b"\0" +
                           value, hashlib.sha256).hexdigest()
            for name, val in ((b"wt-producer", pid.encode()),
                              (b"wt-signature", b"v1=" + mac.encode())):
                items.append((self.V_HEADER, "header", (name, val, len(val))))
        vus = (self._VU * len(items))()
        keep = []  # the buffers, alive until librdkafka copied them
        for vu, (vtype, field, arg) in zip(vus, items):
            vu.vtype = vtype
            if field == "cstr":
                vu.u.cstr = arg
            elif field == "i":
                vu.u.i = arg
            elif field == "mem":
                buf = ctypes.create_string_buffer(arg[0], arg[1])
                keep.append(buf)
                vu.u.mem = self._Mem(ctypes.cast(buf, ctypes.c_void_p), arg[1])
            else:
                buf = ctypes.create_string_buffer(arg[1], arg[2])
                keep.append(buf)
                vu.u.header = self._Header(arg[0], ctypes.cast(buf, ctypes.c_void_p), arg[2])
        return vus, keep

    def send(self, key, value):
        vus, _keep = self._vus(key.encode(), value)
        while True:
            error = self.lib.rd_kafka_produceva(self.rk, vus, len(vus))
            if not error:
                break
            err = self.lib.rd_kafka_error_code(error)
            self.lib.rd_kafka_error_destroy(error)
            if err != self.QUEUE_FULL:
                raise TestError(f"produce: {self.lib.rd_kafka_err2str(err).decode()}")
            self.lib.rd_kafka_poll(self.rk, 100)
        self.lib.rd_kafka_poll(self.rk, 0)

    def flush(self):
        self.lib.rd_kafka_poll(self.rk, 0)

    def close(self, timeout_s=660):
        """Waits for every delivery; the number not delivered."""
        deadline = time.time() + timeout_s
        while self.lib.rd_kafka_outq_len(self.rk) > 0 and time.time() < deadline:
            self.lib.rd_kafka_flush(self.rk, 1000)
        left = self.lib.rd_kafka_outq_len(self.rk)
        self.lib.rd_kafka_destroy(self.rk)
        self.logfile.close()
        return left + sum(self.failed.values())


def consume_all(stack, topic, fmt="%s\\n"):
    """Every message of topic from the beginning, as lines (read as wt-admin)."""
    login = [a for k, v in stack.librdkafka_conf("wt-admin").items() for a in ("-X", f"{k}={v}")]
    r = subprocess.run(["kcat", "-C", "-b", stack.brokers, *login, "-t", topic, "-o",
                        "beginning", "-e", "-q", "-f", fmt], capture_output=True, timeout=300)
    if r.returncode != 0:
        raise TestError(f"kcat -C {topic} failed: {r.stderr.decode(errors='replace')}")
    return r.stdout.decode().splitlines()


# --- checks -------------------------------------------------------------------------------------


def wait_until_decided(stack, n_expected, quiet_s):
    """Waits until PostgreSQL holds a decision for every distinct command, or nothing new
    was decided for quiet_s seconds. Returns the number decided."""
    last, last_change = -1, time.time()
    while True:
        n = int(stack.psql("SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM rejections)"))
        if n != last:
            last, last_change = n, time.time()
        if n >= n_expected or time.time() - last_change > quiet_s:
            return n
        time.sleep(1)


def check_database(stack, model, gen, report):
    """Every command decided exactly once as the model says, streams gap-free, and the
    final work_logs, members and projects equal to the model."""
    decisions = collections.defaultdict(list)
    for cid, kind, what, stream, seq in stack.copy_csv(
            "SELECT command_id, 'applied', type, project_id, seq FROM events "
            "UNION ALL SELECT command_id, 'rejected', code, stream_id, 0 FROM rejections"):
        decisions[cid].append((kind, what))
    sent_ids = set(model.outcome)
    lost, doubled, mismatches = [], [], []
    applied = rejected = 0
    for cid, (kind, what) in model.outcome.items():
        got = decisions.get(cid, [])
        if len(got) > 1:
            doubled.append((cid, got))
        if not got:
            lost.append((cid, kind, what, None))
            continue
        gkind, gwhat = got[0]
        applied += gkind == "applied"
        rejected += gkind == "rejected"
        if kind == "applied" and gkind != "applied":
            lost.append((cid, kind, what, got[0]))
        elif (gkind, gwhat) != (kind, what):
            mismatches.append(f"command {cid}: expected {kind} {what}, got {gkind} {gwhat}")
    unknown = [c for c in decisions if c not in sent_ids]
    mismatches += [f"decision for a command never sent: {c}" for c in unknown]

    # streams: seq 1..n, and the stored seq at n
    gaps = []
    stored = {r[0]: int(r[1]) for r in stack.copy_csv(
        "SELECT id, seq FROM projects UNION ALL SELECT id, seq FROM users")}
    seen_streams = set()
    for stream, n, lo, hi, distinct in stack.copy_csv(
            "SELECT project_id, count(*), min(seq), max(seq), count(DISTINCT seq) "
            "FROM events GROUP BY project_id"):
        seen_streams.add(stream)
        n, lo, hi, distinct = int(n), int(lo), int(hi), int(distinct)
        if lo != 1 or hi != n or distinct != n or stored.get(stream) != hi:
            gaps.append(f"stream {stream}: {n} events, seq {lo}..{hi}, stored seq "
                        f"{stored.get(stream)}")
    for stream, seq in stored.items():
        if seq and stream not in seen_streams:
            gaps.append(f"stream {stream}: stored seq {seq} but no events")
    expected_seq = {p.id: p.seq for p in model.projects.values() if p.created}
    expected_seq.update({u: v["seq"] for u, v in model.users.items()})
    for stream, seq in expected_seq.items():
        if stored.get(stream) != seq:
            mismatches.append(f"stream {stream}: seq {stored.get(stream)}, model {seq}")

    # final rows
    rows = {r[0]: r for r in stack.copy_csv(
        "SELECT id, project_id, user_id, extract(epoch FROM started_at)::bigint, "
        "coalesce(extract(epoch FROM ended_at)::bigint::text, 'null'), description, version "
        "FROM work_logs")}
    log_diffs = 0
    for lid, lg in model.logs.items():
        want = [lid, lg.project_id, lg.user_id, str(lg.started),
                "null" if lg.ended is None else str(lg.ended), lg.description, str(lg.version)]
        got = rows.pop(lid, None)
        if got != want:
            log_diffs += 1
            mismatches.append(f"work_log {lid}: expected {want[3:]}, got "
                              f"{got[3:] if got else 'no row'}")
    for lid in rows:
        log_diffs += 1
        mismatches.append(f"work_log {lid}: a row the model does not have")
    report["log_diffs"] = log_diffs
    members = {(r[0], r[1]): r[2] for r in stack.copy_csv(
        "SELECT project_id, user_id, role FROM project_members")}
    want_members = {(p.id, u): role for p in model.projects.values() for u, role in p.members.items()}
    if members != want_members:
        mismatches.append(f"project_members: {len(set(members.items()) ^ set(want_members.items()))}"
                          " rows differ from the model")
    names = {r[0]: r[1] for r in stack.copy_csv("SELECT id, name FROM projects")}
    want_names = {p.id: p.name for p in model.projects.values() if p.created}
    if names != want_names:
        mismatches.append("projects: names or ids differ from the model")

    report.update(applied=applied, rejected=rejected, lost=len(lost), doubled=len(doubled),
                  gaps=len(gaps))
    report["mismatch_count"] += len(mismatches)
    report["details"] += gaps[:10] + mismatches[:20]
    by_type = collections.Counter()
    for cid, kind, what, got in lost:
        by_type[(kind, what, got, gen.after_redelivered_create(cid))] += 1
    for (kind, what, got, after), n in by_type.most_common():
        report["details"].append(
            f"lost: {n} x expected {kind} {what}, got "
            f"{got[0] + ' ' + got[1] if got else 'no decision'}"
            f"{', after a redelivery of the create it needs' if after else ''}")
    for cid, got in doubled[:5]:
        report["details"].append(f"doubled: {cid} decided {len(got)} times: {got}")
    report["lost_ids"] = [x[0] for x in lost]
    return decisions


def check_outcomes(stack, model, decisions, prefix, report, wait_s):
    """An outcome on <prefix>.events for every command, of the kind PostgreSQL recorded,
    and every (project_id, seq), or (user_id, seq) for user.*, naming one command only."""
    deadline = time.time() + wait_s
    while True:
        seen, by_seq, bad = {}, {}, 0
        for line in consume_all(stack, f"{prefix}.events"):
            try:
                o = json.loads(line)
            except ValueError:
                bad += 1
                continue
            cid = o.get("command_id")
            seen.setdefault(cid, set()).add(o.get("kind"))
            if o.get("kind") == "event":
                stream = o.get("project_id") or o.get("user_id")  # user_id: user.*
                prev = by_seq.setdefault((stream, o.get("seq")), cid)
                if prev != cid:
                    bad += 1
        missing = [c for c in model.outcome if c not in seen]
        if not missing or time.time() > deadline:
            break
        time.sleep(3)
    wrong = 0
    for cid, kinds in seen.items():
        got = decisions.get(cid)
        want = {"applied": "event", "rejected": "rejected"}[got[0][0]] if got else None
        if want is None or kinds != {want}:
            wrong += 1
    report["no_outcome"] = len(missing)
    report["outcome_mismatch"] = wrong + bad
    report["mismatch_count"] += wrong + bad
    if missing:
        report["details"].append(f"no outcome on {prefix}.events for {len(missing)} commands, "
                                 f"e.g. {missing[:3]}")
    if wrong or bad:
        report["details"].append(f"{prefix}.events: {wrong} outcomes of the wrong kind, "
                                 f"{bad} unreadable or with a (project_id, seq) of two commands")


def failover_report(faults, workers):
    """The failover times, from the workers' own log lines."""
    lines = []
    for w, inc, started, cause in faults.restarts:
        first = next((ts for ts, kind, _ in w.partition_lines(inc) if kind == "assigned"), None)
        took = f"{first - started:.1f}s" if first else "none (stopped before its first)"
        lines.append(f"failover: worker {w.name}.{inc} ({cause}) start_to_first_assigned={took}")
    for cause, victim, parts, s, inc, t0 in faults.takeovers:
        if not parts:
            lines.append(f"failover: {cause} worker {victim} held no partitions")
            continue
        took = takeover_time(s.partition_lines(inc), t0, parts)
        took = f"{took:.1f}s" if took is not None else "not within its life"
        lines.append(f"failover: {cause} worker {victim}, survivor {s.name}.{inc} took over "
                     f"partitions {','.join(map(str, sorted(parts)))} takeover={took}")
    return lines


# --- main ---------------------------------------------------------------------------------------


def run(args):
    rng = random.Random(args.seed)
    var = os.path.realpath(args.var)
    logdir = os.path.join(var, "logs")
    # a fresh state folder every run: the checks compare the whole database with the model
    if os.path.exists(os.path.join(var, "stack.env")) or os.path.isdir(os.path.join(var, "pg")):
        Stack(var).stop()
    subprocess.run(["rm", "-rf", var], check=True)
    os.makedirs(logdir)
    prefix = f"chaos{args.seed}"
    log(f"seed={args.seed} commands={args.commands} duration={args.duration}s kills={args.kills} "
        f"users={args.users} projects={args.projects} state={var}")

    stack = Stack(var)
    workers = []
    faults = None
    report = collections.Counter()
    report["details"] = []
    try:
        stack.start()
        env = dict(os.environ, WT_DATABASE_URL=stack.db_url, WT_KAFKA_BROKERS=stack.brokers,
                   WT_TOPIC_PREFIX=prefix, WT_METRICS_PORT="0", WT_LOG_LEVEL="info",
                   WT_KAFKA_PARTITIONS=str(args.partitions))
        admin_env = dict(env, **stack.identity("wt-admin"))
        for cmd in (["migrate", "--dir", os.path.join(REPO, "migrations")], ["topics"],
                    ["acls"]):
            r = subprocess.run([args.admin, *cmd], env=admin_env, capture_output=True, text=True)
            if r.returncode != 0:
                raise TestError(f"wt-admin {cmd[0]} failed: {r.stdout}{r.stderr}")
        worker_env = dict(env, **stack.identity("wt-worker"))
        workers = [Worker("A", args.worker, worker_env, logdir),
                   Worker("B", args.worker, worker_env, logdir)]
        workers[0].start()
        gen = Generator(rng, args.users, args.projects, prefix)
        # the stream's producer is an operator's trusted one: user.create needs the system
        # scope (docs/security.md), which the stack gives wt-admin's key
        producer = Producer(stack.brokers, f"{prefix}.commands", logdir,
                            stack.librdkafka_conf("wt-admin"), stack.signer("wt-admin"))

        # The users first, and decided before the rest: project commands depend on them
        # and are ordered on other partitions.
        for key, value, _, _ in gen.user_creates():
            producer.send(key, value)
        producer.flush()
        deadline = time.time() + 120
        while int(stack.psql("SELECT count(*) FROM users")) < args.users:
            if time.time() > deadline:
                raise TestError("the users were not created within 120 s (see the worker logs)")
            time.sleep(0.5)
        log(f"{args.users} users created through user.create commands as system")

        t0 = time.time()
        schedule = fault_schedule(rng, args.duration, args.kills)
        faults = FaultRunner(rng, schedule, stack, workers, t0, args.partitions)
        faults.start()
        n_stream = args.commands - args.users
        step = 0
        while len(gen.model.outcome) < args.commands:
            for key, value, _, _ in gen.next_messages():
                producer.send(key, value)
            step += 1
            wait = t0 + args.duration * len(gen.model.outcome) / args.commands - time.time()
            if wait > 0:
                producer.flush()
                time.sleep(wait)
            if step % max(n_stream // 10, 1) == 0:
                log(f"produced {len(gen.sent)} messages ({len(gen.model.outcome)} commands)")
        undelivered = producer.close()
        if undelivered:
            raise TestError(f"{undelivered} messages not delivered to {prefix}.commands "
                            f"({dict(producer.failed)}; log: {logdir}/producer.log)")
        log(f"stream produced: {len(gen.sent)} messages in {time.time() - t0:.0f} s")
        gen.write_stream(os.path.join(logdir, "stream.tsv"))
        faults.join()
        if faults.error:
            raise TestError(f"fault schedule: {faults.error!r}")
        for w in workers:
            w.check_alive()

        in_topic = len(consume_all(stack, f"{prefix}.commands", "%o\\n"))
        if in_topic < len(gen.sent):
            raise TestError(f"only {in_topic} of {len(gen.sent)} messages reached "
                            f"{prefix}.commands")
        log(f"waiting for the workers to decide {len(gen.model.outcome)} commands")
        decided = wait_until_decided(stack, len(gen.model.outcome), args.quiet)
        log(f"{decided} decided; checking")
        decisions = check_database(stack, gen.model, gen, report)
        check_outcomes(stack, gen.model, decisions, prefix, report, 60)
        dlq = len(consume_all(stack, f"{prefix}.dlq"))
        report["mismatch_count"] += dlq
        if dlq:
            report["details"].append(f"{dlq} messages on {prefix}.dlq")

        expected_rejects = sum(1 for o in gen.model.outcome.values() if o[0] == "rejected")
        print(f"sent={len(gen.sent)} commands={len(gen.model.outcome)} "
              f"redelivered={gen.redeliveries} applied={report['applied']} "
              f"rejected={report['rejected']} expected_rejected={expected_rejects} "
              f"lost={report['lost']} doubled={report['doubled']} gaps={report['gaps']} "
              f"mismatches={report['mismatch_count']} no_outcome={report['no_outcome']}",
              flush=True)
        print(f"rejects_made={dict(gen.intended_rejects)} "
              f"redelivered_creates_then_dependent={gen.redelivered_creates_with_dependent} "
              f"worker_kills={faults.kills} in_topic={in_topic} dlq={dlq}", flush=True)
        for line in failover_report(faults, workers):
            print(line, flush=True)
        for line in report["details"][:40]:
            print(f"  {line}", flush=True)
    finally:
        exits = []
        for w in workers:
            if w.proc is not None:
                status = w.stop()
                exits.append((w.label, status))
        stragglers = [w for w in workers if w.unexpected_exits]
        for w in stragglers:
            for label, status in w.unexpected_exits:
                print(f"worker {label} exited by itself with status {status}", flush=True)
        bad_exits = [(lbl, s) for lbl, s in exits if s != 0]
        for lbl, s in bad_exits:
            print(f"worker {lbl} stopped with status {s} after SIGTERM (log: "
                  f"{logdir}/worker-{lbl}.log)", flush=True)
        report["worker_failures"] = len(bad_exits) + sum(len(w.unexpected_exits) for w in workers)
        if not args.keep:
            stack.stop()
    failed = (report["lost"] or report["doubled"] or report["gaps"] or report["mismatch_count"]
              or report["no_outcome"] or report["worker_failures"])
    print(f"chaos: {'FAILED' if failed else 'passed'} (logs in {logdir})", flush=True)
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", required=True, help="the wt-worker binary")
    ap.add_argument("--admin", required=True, help="the wt-admin binary")
    ap.add_argument("--commands", type=int, default=50000, help="distinct commands (with users)")
    ap.add_argument("--duration", type=float, default=300, help="seconds to spread them over")
    ap.add_argument("--kills", type=int, default=6, help="worker SIGKILLs (at least 5)")
    ap.add_argument("--partitions", type=int, default=6, help="of <prefix>.commands")
    ap.add_argument("--users", type=int, default=12)
    ap.add_argument("--projects", type=int, default=10)
    ap.add_argument("--var", default=os.path.join(REPO, "build", "chaos"),
                    help="state folder (wiped at start)")
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    ap.add_argument("--quiet", type=float, default=90,
                    help="give up waiting after this many seconds without a new decision")
    ap.add_argument("--keep", action="store_true", help="leave the stack running")
    args = ap.parse_args()
    try:
        return run(args)
    except TestError as e:
        print(f"chaos: could not run: {e}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
