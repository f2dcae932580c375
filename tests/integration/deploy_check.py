#!/usr/bin/python3
"""Offline checks of Starling's deployment files, driven by test_deploy_docker.sh and
test_deploy_k8s.sh (which say what they cover). There is no Docker engine or Kubernetes
cluster here, so every check is made against the real thing that *is* here:

* config keys and values: the service binaries themselves parse each config file;
* environment variable names: the `[env: ...]` names each binary's --help prints;
* container and pod settings: the three services are started with the container/pod config
  file plus the environment compose or the manifests give them (addresses moved to
  127.0.0.1), and must report green /healthz; the image's health-check script must agree;
* runtime libraries: what the running services map (/proc/PID/maps, dlopen()ed plugins
  included) against the packages the Dockerfile installs (closure by apt-cache depends);
* Kubernetes objects: the python3-kubernetes API models (field names, types, required
  fields) plus the rules of docs/deployment.md (probes, grace periods, host networking...).

Usage: deploy_check.py docker|k8s SRC_DIR BUILD_DIR
"""
import glob
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

SERVICES = ("signal", "sfu", "turn")
failures = []


def ok(msg):
    print("ok: " + msg, flush=True)


def fail(msg):
    print("FAIL: " + msg, flush=True)
    failures.append(msg)


def check(cond, msg, detail=""):
    if cond:
        ok(msg)
    else:
        fail(msg + (": " + detail if detail else ""))
    return cond


# ------------------------------------------------------------------------------------------
# The binaries: options, environment names, config parsing.
# ------------------------------------------------------------------------------------------
class Binaries:
    def __init__(self, build):
        self.path = {s: os.path.join(build, "services", s, "starling-" + s) for s in SERVICES}
        missing = [p for p in self.path.values() if not os.access(p, os.X_OK)]
        if missing:
            print("FAIL: not built: %s (services/sfu and services/turn must be in the tree)" % ", ".join(missing))
            sys.exit(1)
        self.env_names = {}
        for s in SERVICES:
            out = subprocess.run([self.path[s], "--help"], capture_output=True, text=True).stdout
            names = set(re.findall(r"\[env: (STARLING_[A-Z0-9_]+)\]", out))
            names.add("STARLING_%s_CONFIG" % s.upper())
            if len(names) < 10:
                print("FAIL: cannot read the options of %s from --help" % s)
                sys.exit(1)
            self.env_names[s] = names

    def parse_check(self, svc, conf):
        """Let the service parse `conf`, and stop it right after: an invalid value in an
        environment variable that is applied after the file (docs/configuration.md:
        file, then environment, then flags) makes it exit with that variable's error, which
        it reaches only when every line of the file was a known option with a valid value."""
        sentinel = "STARLING_%s_LOG_LEVEL" % svc.upper()
        r = subprocess.run([self.path[svc], "--config", conf], capture_output=True, text=True, timeout=20,
                           env={"PATH": "/usr/bin:/bin", sentinel: "not-a-level"})
        err = (r.stderr + r.stdout).strip()
        return r.returncode != 0 and ("environment " + sentinel) in err, err


def conf_value(path, key):
    """The value of `key` (e.g. http.listen) in a config file, as the services read it."""
    def norm(k):
        return re.sub(r"[-_]", ".", k.strip().lower())
    want, sec, val = norm(key), "", None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\r\n")
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("["):
            sec = norm(s[1:s.index("]")])
            continue
        if "=" not in s:
            continue
        k, v = s.split("=", 1)
        k = norm(k)
        if sec:
            k = sec + "." + k
        if k != want:
            continue
        v = v.strip()
        if v.startswith('"'):
            v = v[1:v.index('"', 1)]
        else:
            v = re.split(r"[ \t]#", v)[0].strip()
        val = v
    return val


def duration_s(v):
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", v.strip())
    if not m:
        raise ValueError("bad duration %r" % v)
    n, unit = int(m.group(1)), m.group(2) or "s"
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def check_conf_files(bins, src):
    for conf in sorted(glob.glob(os.path.join(src, "deploy/config/*.conf"))):
        svc = os.path.basename(conf).split(".")[0]
        if svc not in SERVICES:
            fail("%s: not named <service>.<variant>.conf" % conf)
            continue
        good, err = bins.parse_check(svc, conf)
        check(good, "starling-%s accepts every key and value of deploy/config/%s" % (svc, os.path.basename(conf)), err)


# ------------------------------------------------------------------------------------------
# Running the services with a deployment's configuration, on loopback.
# ------------------------------------------------------------------------------------------
def free_tcp():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def free_block(n):
    """n consecutive ports free for both TCP and UDP on 127.0.0.1."""
    import random
    for _ in range(500):
        base = random.randrange(20000, 30000 - n)
        good = True
        for p in range(base, base + n):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, kind)
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    good = False
                finally:
                    s.close()
            if not good:
                break
        if good:
            return base
    raise RuntimeError("no free port block")


def healthz(addr):
    host, port = addr.rsplit(":", 1)
    try:
        r = urllib.request.urlopen("http://%s:%s/healthz" % (host, port), timeout=2)
        return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except Exception as e:  # noqa: BLE001 - any failure to connect is "not green"
        return 0, str(e)


class Cluster:
    """redis-server with a password plus the three services; stops all of them, by PID."""

    def __init__(self, tmp, password):
        self.tmp = tmp
        self.password = password
        self.procs = {}
        self.redis_port = free_tcp()
        self.redis = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port),
                                       "--requirepass", password, "--save", "", "--appendonly", "no",
                                       "--dir", tmp], stdout=subprocess.DEVNULL)
        for _ in range(50):
            r = subprocess.run(["redis-cli", "-p", str(self.redis_port), "--no-auth-warning", "-a", password, "ping"],
                               capture_output=True, text=True)
            if "PONG" in r.stdout:
                break
            time.sleep(0.1)

    def start(self, svc, binary, env):
        log = open(os.path.join(self.tmp, svc + ".log"), "w")
        base = {"PATH": "/usr/bin:/bin", "HOME": self.tmp}
        base.update(env)
        self.procs[svc] = (subprocess.Popen([binary], env=base, stdout=log, stderr=subprocess.STDOUT), base)

    def wait_green(self, svc, addr, timeout=25):
        deadline = time.time() + timeout
        code, body = 0, ""
        while time.time() < deadline:
            p = self.procs[svc][0]
            if p.poll() is not None:
                return False, "exited with %d: %s" % (p.returncode, self.log_tail(svc))
            code, body = healthz(addr)
            if code == 200:
                return True, body
            time.sleep(0.2)
        return False, "HTTP %d %s; log: %s" % (code, body, self.log_tail(svc))

    def log_tail(self, svc):
        try:
            return " | ".join(open(os.path.join(self.tmp, svc + ".log")).read().splitlines()[-4:])
        except OSError:
            return ""

    def stop(self, svc, timeout=45):
        p = self.procs[svc][0]
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                return None
        return p.returncode

    def close(self):
        for p, _ in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait()


def mapped_libraries(pid):
    libs = set()
    for line in open("/proc/%d/maps" % pid):
        parts = line.split(None, 5)
        if len(parts) == 6 and ".so" in parts[5]:
            libs.add(os.path.realpath(parts[5].strip().replace(" (deleted)", "")))
    return libs


def packages_of(paths):
    """{path: package} through one dpkg -S, trying the /usr-merged and unmerged spellings."""
    cands = {}
    for path in paths:
        cands[path] = path
        if path.startswith("/usr/lib/"):
            cands[path[len("/usr"):]] = path
        elif path.startswith("/lib/"):
            cands["/usr" + path] = path
    r = subprocess.run(["dpkg", "-S"] + sorted(cands), capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        pkg, _, f = line.partition(": ")
        if f in cands and "," not in pkg:
            out[cands[f]] = pkg.split(":")[0].strip()
    return out


def apt_closure(pkgs):
    r = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                        "--no-breaks", "--no-replaces", "--no-enhances"] + sorted(pkgs),
                       capture_output=True, text=True)
    names = set()
    for line in r.stdout.splitlines():
        if line and not line.startswith(" ") and not line.startswith("<"):
            names.add(line.strip().split(":")[0])
    return names


# ------------------------------------------------------------------------------------------
# Dockerfile
# ------------------------------------------------------------------------------------------
def load_chroot_build(src):
    spec = importlib.util.spec_from_file_location("chroot_build", os.path.join(src, "deploy/docker/chroot-build.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def dockerfile_stages(src):
    cb = load_chroot_build(src)
    instrs = cb.parse_dockerfile(os.path.join(src, "deploy/docker/Dockerfile"))
    args, stages, cur = {}, [], None
    for kw, rest in instrs:
        if kw == "ARG" and cur is None:
            k, _, v = rest.partition("=")
            args[k] = v
        elif kw == "FROM":
            parts = rest.split()
            cur = {"image": cb.subst(parts[0], args), "name": parts[2] if len(parts) > 2 else "", "instrs": []}
            stages.append(cur)
        else:
            cur["instrs"].append((kw, rest))
    return stages


def apt_packages(stage):
    pkgs = []
    for kw, rest in stage["instrs"]:
        if kw != "RUN":
            continue
        for m in re.finditer(r"apt-get install ((?:\S+\s+)+?)(?:&&|$)", rest + " &&"):
            pkgs += [t for t in m.group(1).split() if not t.startswith("-")]
    return pkgs


def check_dockerfile(src, maps_by_svc):
    stages = dockerfile_stages(src)
    check(len(stages) == 2 and stages[0]["image"] == "debian:12" and stages[1]["image"] == "debian:12-slim",
          "Dockerfile: build stage on debian:12, runtime stage on debian:12-slim",
          str([s["image"] for s in stages]))
    build, run = stages[0], stages[-1]
    meta = {kw: rest for kw, rest in run["instrs"]}
    user = meta.get("USER", "")
    check(re.fullmatch(r"[1-9]\d*(:\d+)?", user) is not None, "Dockerfile: runs as a numeric non-root USER (%s)" % user)
    check("HEALTHCHECK" in meta and "starling-healthcheck" in meta["HEALTHCHECK"], "Dockerfile: HEALTHCHECK runs starling-healthcheck")
    check("ENTRYPOINT" in meta and "/usr/local/bin/starling" in meta["ENTRYPOINT"], "Dockerfile: ENTRYPOINT is the dispatcher")

    # Every COPY from the build context names something that exists; the runtime stage gets
    # the entrypoint, the health check, the web root and the three configs.
    copied = {}
    for st in stages:
        for kw, rest in st["instrs"]:
            if kw != "COPY":
                continue
            toks = rest.split()
            if toks[0].startswith("--from="):
                continue
            for s in toks[:-1]:
                if not check(os.path.exists(os.path.join(src, s)), "Dockerfile: COPY source %s exists" % s):
                    pass
                copied[s.rstrip("/")] = toks[-1]
    for need, dest in (("deploy/docker/entrypoint.sh", "/usr/local/bin/starling"),
                       ("deploy/docker/healthcheck.sh", "/usr/local/bin/starling-healthcheck"),
                       ("services/signal/web", "/usr/share/starling/web/")):
        check(copied.get(need) == dest, "Dockerfile: %s installed as %s" % (need, dest), str(copied.get(need)))
    env_line = " ".join(rest for kw, rest in run["instrs"] if kw == "ENV")
    for s in SERVICES:
        conf = copied.get("deploy/config/%s.docker.conf" % s)
        check(conf is not None and ("STARLING_%s_CONFIG=%s" % (s.upper(), conf)) in env_line,
              "Dockerfile: %s.docker.conf is the image's %s config (STARLING_%s_CONFIG)" % (s, s, s.upper()))
    check("STARLING_SIGNAL_WEB_ROOT=/usr/share/starling/web" in env_line, "Dockerfile: signal's web_root points at the copied page")

    # Package names exist in Debian 12.
    bpk, rpk = apt_packages(build), apt_packages(run)
    r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + bpk + rpk, capture_output=True, text=True)
    known = set(re.findall(r"^Package: (\S+)$", r.stdout, re.M))
    missing = [p for p in bpk + rpk if p not in known]
    check(not missing and bpk and rpk, "Dockerfile: the %d build and %d runtime package names exist in Debian" % (len(bpk), len(rpk)),
          "unknown: %s" % missing)

    # Build stage: the compiler and every pkg-config module CMakeLists.txt requires.
    for tool in ("gcc", "make", "cmake", "pkg-config"):
        check(tool in bpk, "Dockerfile build stage installs %s" % tool)
    bclosure = apt_closure(bpk)
    mods = re.findall(r"pkg_check_modules\(\w+ REQUIRED IMPORTED_TARGET ([\w.+-]+)\)", open(os.path.join(src, "CMakeLists.txt")).read())
    for mod in mods:
        r = subprocess.run(["pkg-config", "--variable=pcfiledir", mod], capture_output=True, text=True)
        pc = os.path.join(r.stdout.strip(), mod + ".pc")
        pkg = packages_of([pc]).get(pc)
        check(pkg is not None and pkg in bclosure, "Dockerfile build stage provides pkg-config module %s (%s)" % (mod, pkg))

    # Runtime stage: every library the running services map comes from a listed package, its
    # dependencies, or the base image; and every listed package is used.
    rclosure = apt_closure(rpk)
    q = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Priority} ${Essential}\n"], capture_output=True, text=True).stdout
    base = {ln.split()[0] for ln in q.splitlines() if ln.split()[1:2] == ["required"] or ln.endswith(" yes")}
    base_closure = apt_closure(base | {"apt"})
    used = {}
    owner = packages_of(set().union(*maps_by_svc.values()))
    for svc, libs in sorted(maps_by_svc.items()):
        for path in libs & set(owner):
            used.setdefault(owner[path], set()).add(svc)
        unknown = libs - set(owner)
        check(not unknown, "%s maps only libraries that belong to a Debian package" % svc, str(unknown))
    for pkg, svcs in sorted(used.items()):
        check(pkg in rclosure or pkg in base_closure,
              "runtime image provides %s (mapped by %s)" % (pkg, ", ".join(sorted(svcs))))
    for pkg in rpk:
        check(pkg in used, "runtime package %s is mapped by a running service" % pkg)


# ------------------------------------------------------------------------------------------
# docker-compose.yml
# ------------------------------------------------------------------------------------------
def compose_resolved(src, tmp):
    """docker-compose.yml with .env values from compose.env.example: `docker-compose config`
    when Debian's docker-compose is here, else PyYAML plus ${VAR} interpolation."""
    envfile = os.path.join(src, "deploy/docker/compose.env.example")
    values = {}
    for line in open(envfile):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            values[k.strip()] = v.strip()
    dc = shutil.which("docker-compose")
    if dc:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp}
        r = subprocess.run([dc, "--project-directory", src, "--env-file", envfile, "-f",
                            os.path.join(src, "docker-compose.yml"), "config"], capture_output=True, text=True, env=env)
        check(r.returncode == 0, "docker-compose config accepts docker-compose.yml with compose.env.example", r.stderr[-500:])
        # Without the required settings compose refuses, naming the missing one.
        empty = os.path.join(tmp, "empty.env")
        open(empty, "w").close()
        r2 = subprocess.run([dc, "--project-directory", src, "--env-file", empty, "-f",
                             os.path.join(src, "docker-compose.yml"), "config"], capture_output=True, text=True, env=env)
        check(r2.returncode != 0 and "STARLING_" in r2.stderr and "in .env" in r2.stderr,
              "docker-compose config refuses to run without the required .env settings", r2.stderr[-300:])
        if r.returncode == 0:
            return yaml.safe_load(r.stdout), values
    else:
        print("note: docker-compose not installed: compose file checked with PyYAML only")
    raw = open(os.path.join(src, "docker-compose.yml")).read()

    def interp(m):
        name, op, arg = m.group(1), m.group(2), m.group(3)
        v = values.get(name, os.environ.get(name))
        if op == ":-" and not v:
            return arg
        if op == ":?" and not v:
            fail("compose: %s required" % name)
        return v or ""
    raw = re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", interp, raw)
    return yaml.safe_load(raw), values


def check_compose(src, tmp, bins):
    doc, values = compose_resolved(src, tmp)
    services = doc.get("services", {})
    check(set(services) == {"redis", "signal", "sfu", "turn"}, "compose: services redis, signal, sfu, turn", str(sorted(services)))
    redis_cmd = [str(x) for x in services["redis"].get("command", [])]
    rport = redis_cmd[redis_cmd.index("--port") + 1] if "--port" in redis_cmd else "6379"
    rpass = redis_cmd[redis_cmd.index("--requirepass") + 1] if "--requirepass" in redis_cmd else None
    check(rpass == values.get("STARLING_REDIS_PASSWORD"), "compose: Redis requires the .env password")
    check("127.0.0.1" in redis_cmd, "compose: Redis binds loopback only")
    for svc in SERVICES:
        s = services[svc]
        env = {k: str(v) for k, v in (s.get("environment") or {}).items()}
        cmd = s.get("command") or []
        check(cmd[:1] == [svc], "compose %s: runs the image's '%s' command" % (svc, svc), str(cmd))
        check(s.get("network_mode") == "host", "compose %s: host networking" % svc)
        bad = [k for k in env if k.startswith("STARLING_") and k not in bins.env_names[svc]]
        check(not bad, "compose %s: every STARLING_ variable is an option of starling-%s" % (svc, svc), str(bad))
        check(env.get("STARLING_%s_REDIS_PORT" % svc.upper()) == rport and
              env.get("STARLING_%s_REDIS_PASSWORD" % svc.upper()) == rpass,
              "compose %s: Redis port and password match the redis service" % svc)
        hc = (s.get("healthcheck") or {}).get("test") or []
        check("starling-healthcheck" in hc, "compose %s: health check is starling-healthcheck" % svc)
        conf = os.path.join(src, "deploy/config/%s.docker.conf" % svc)
        drain = env.get("STARLING_%s_SHUTDOWN_DRAIN_TIMEOUT" % svc.upper()) or conf_value(conf, "shutdown.drain_timeout") or "10s"
        grace = s.get("stop_grace_period", "10s")
        grace_s = duration_s(grace) if isinstance(grace, str) else float(grace)
        check(grace_s > duration_s(drain), "compose %s: stop_grace_period %s > drain_timeout %s" % (svc, grace, drain))
        deps = s.get("depends_on") or {}
        check("redis" in deps, "compose %s: depends on redis" % svc)
    sig = {k: str(v) for k, v in services["signal"]["environment"].items()}
    pub = values["STARLING_PUBLIC_IP"]
    check(("turn:%s:3478?transport=udp" % pub) in sig.get("STARLING_SIGNAL_TURN_URLS", ""),
          "compose: signal hands out the TURN URL on the public address")
    return doc, values


def boot_compose(src, build, bins, tmp, doc, values):
    """The three services with their docker config and compose's environment, the addresses
    moved to loopback; every /healthz green, the image's health check agreeing."""
    cl = Cluster(tmp, values["STARLING_REDIS_PASSWORD"])
    maps = {}
    try:
        base = free_block(8)
        relay = free_block(40)
        addrs = {"signal": "127.0.0.1:%d" % base, "sfu": "127.0.0.1:%d" % (base + 3), "turn": "127.0.0.1:%d" % (base + 4)}
        loop = {values["STARLING_PUBLIC_IP"]: "127.0.0.1", values["STARLING_HOST_IP"]: "127.0.0.1"}
        for svc in ("turn", "sfu", "signal"):
            env = {}
            for k, v in doc["services"][svc]["environment"].items():
                v = str(v)
                for a, b in loop.items():
                    v = v.replace(a, b)
                env[k] = v
            u = svc.upper()
            env["STARLING_%s_CONFIG" % u] = os.path.join(src, "deploy/config/%s.docker.conf" % svc)
            env["STARLING_%s_REDIS_PORT" % u] = str(cl.redis_port)
            if svc == "signal":
                env["STARLING_SIGNAL_LISTEN"] = addrs["signal"]
                env["STARLING_SIGNAL_WEB_ROOT"] = os.path.join(src, "services/signal/web")
            elif svc == "sfu":
                env["STARLING_SFU_UDP_LISTEN"] = "127.0.0.1:%d" % (base + 1)
                env["STARLING_SFU_HTTP_LISTEN"] = addrs["sfu"]
            else:
                env["STARLING_TURN_LISTEN"] = env["STARLING_TURN_TCP_LISTEN"] = "127.0.0.1:%d" % (base + 5)
                env["STARLING_TURN_HTTP_LISTEN"] = addrs["turn"]
                env["STARLING_TURN_RELAY_MIN_PORT"], env["STARLING_TURN_RELAY_MAX_PORT"] = str(relay), str(relay + 39)
            cl.start(svc, bins.path[svc], env)
        for svc in ("turn", "sfu", "signal"):
            green, detail = cl.wait_green(svc, addrs[svc])
            check(green, "docker config + compose environment: starling-%s /healthz green" % svc, detail)
            pid = cl.procs[svc][0].pid
            if green:
                maps[svc] = mapped_libraries(pid)
            # The image's HEALTHCHECK, finding the address from the process's environment.
            r = subprocess.run(["bash", os.path.join(src, "deploy/docker/healthcheck.sh"), str(pid)], capture_output=True, text=True)
            check(r.returncode == 0, "healthcheck.sh finds %s's /healthz from its environment" % svc, r.stderr)
        # The page the image serves, with the demo page of this tree.
        try:
            page = urllib.request.urlopen("http://%s/" % addrs["signal"], timeout=3).read().decode()
        except Exception as e:  # noqa: BLE001
            page = str(e)
        check("<title>Starling" in page, "docker config: signal serves the demo page")

        # The health check reading the config file (no environment override): an SFU whose
        # HTTP address is only in its file, then the same SFU draining after SIGTERM is 503
        # for the health check... it exits at once when it has no rooms, so the check fails.
        conf = os.path.join(tmp, "sfu-file.conf")
        port = free_tcp()
        text = open(os.path.join(src, "deploy/config/sfu.docker.conf")).read()
        text = text.replace("listen = 127.0.0.1:9642", "listen = 127.0.0.1:%d" % port)
        text = text.replace("listen = 0.0.0.0:7882", "listen = 127.0.0.1:%d" % (base + 6))
        open(conf, "w").write(text)
        cl.start("sfu-file", bins.path["sfu"], {"STARLING_SFU_CONFIG": conf, "STARLING_SFU_NODE_ID": "sfu-file",
                                                "STARLING_SFU_REDIS_PORT": str(cl.redis_port),
                                                "STARLING_SFU_REDIS_PASSWORD": values["STARLING_REDIS_PASSWORD"],
                                                "STARLING_SFU_WORKERS": "1"})
        green, detail = cl.wait_green("sfu-file", "127.0.0.1:%d" % port)
        pid = cl.procs["sfu-file"][0].pid
        r = subprocess.run(["bash", os.path.join(src, "deploy/docker/healthcheck.sh"), str(pid)], capture_output=True, text=True)
        check(green and r.returncode == 0, "healthcheck.sh finds the SFU's /healthz from its config file", detail + r.stderr)
        cl.stop("sfu-file")
        r = subprocess.run(["bash", os.path.join(src, "deploy/docker/healthcheck.sh"), str(pid)], capture_output=True, text=True)
        check(r.returncode != 0, "healthcheck.sh fails for a stopped service")
        r = subprocess.run(["bash", os.path.join(src, "deploy/docker/healthcheck.sh"), str(cl.redis.pid)], capture_output=True, text=True)
        check(r.returncode == 2, "healthcheck.sh refuses a process that is not a Starling service")

        for svc in ("signal", "sfu", "turn"):
            rc = cl.stop(svc)
            check(rc == 0, "starling-%s exits 0 after SIGTERM" % svc, str(rc))
    finally:
        cl.close()
    return maps


def check_turn_tls(src, bins, tmp):
    """docs/deployment.md's TLS recipe for compose: turn.docker.conf plus STARLING_TURN_TLS_*
    with a certificate file; coTURN's turnutils_uclient allocates and relays over TLS."""
    if not shutil.which("turnutils_uclient") or not shutil.which("openssl"):
        print("note: turnutils_uclient or openssl missing: TURN TLS recipe not checked")
        return
    key, crt = os.path.join(tmp, "tls.key"), os.path.join(tmp, "tls.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=turn.example.com"],
                   capture_output=True, check=True)
    cl = Cluster(tmp, "tls-test-password")
    try:
        base, relay = free_block(4), free_block(20)
        http = "127.0.0.1:%d" % (base + 2)
        cl.start("turn", bins.path["turn"], {
            "STARLING_TURN_CONFIG": os.path.join(src, "deploy/config/turn.docker.conf"),
            "STARLING_TURN_LISTEN": "127.0.0.1:%d" % base, "STARLING_TURN_TCP_LISTEN": "127.0.0.1:%d" % base,
            "STARLING_TURN_TLS_LISTEN": "127.0.0.1:%d" % (base + 1),
            "STARLING_TURN_TLS_CERT": crt, "STARLING_TURN_TLS_KEY": key,
            "STARLING_TURN_HTTP_LISTEN": http, "STARLING_TURN_RELAY_IPV4": "127.0.0.1",
            "STARLING_TURN_PEERS_ALLOW": "127.0.0.1", "STARLING_TURN_USERS": "tls:tls-pass",
            "STARLING_TURN_RELAY_MIN_PORT": str(relay), "STARLING_TURN_RELAY_MAX_PORT": str(relay + 19),
            "STARLING_TURN_REDIS_PORT": str(cl.redis_port), "STARLING_TURN_REDIS_PASSWORD": "tls-test-password"})
        green, detail = cl.wait_green("turn", http)
        r = subprocess.run(["timeout", "60", "turnutils_uclient", "-t", "-S", "-p", str(base + 1), "-u", "tls", "-w", "tls-pass",
                            "-e", "127.0.0.1", "-y", "-m", "1", "-n", "5", "-l", "100", "127.0.0.1"],
                           capture_output=True, text=True)
        out = r.stdout + r.stderr
        check(green and r.returncode == 0 and re.search(r"start_mclient: tot_send_msgs=\d+, tot_recv_msgs=[1-9]", out),
              "TURN over TLS with turn.docker.conf + STARLING_TURN_TLS_*: turnutils_uclient -t -S relays",
              detail + " " + out[-300:])
    finally:
        cl.close()


def check_entrypoint(src):
    ep = os.path.join(src, "deploy/docker/entrypoint.sh")
    r = subprocess.run(["sh", ep], capture_output=True, text=True)
    check(r.returncode == 0 and "signal" in r.stdout and "turn" in r.stdout, "entrypoint.sh prints its usage without arguments")
    r = subprocess.run(["sh", ep, "echo", "passthrough"], capture_output=True, text=True)
    check(r.stdout.strip() == "passthrough", "entrypoint.sh runs any other command as given")
    for f in ("entrypoint.sh", "healthcheck.sh"):
        sh = "bash" if f == "healthcheck.sh" else "sh"
        r = subprocess.run([sh, "-n", os.path.join(src, "deploy/docker", f)], capture_output=True, text=True)
        check(r.returncode == 0, "%s -n %s (syntax)" % (sh, f), r.stderr)
        check(os.access(os.path.join(src, "deploy/docker", f), os.X_OK), "%s is executable in the tree" % f)


def mode_docker(src, build):
    bins = Binaries(build)
    tmp = tempfile.mkdtemp(prefix="deploy-docker-")
    try:
        check_conf_files(bins, src)
        check_entrypoint(src)
        doc, values = check_compose(src, tmp, bins)
        maps = boot_compose(src, build, bins, tmp, doc, values)
        check_turn_tls(src, bins, tmp)
        if len(maps) == 3:
            check_dockerfile(src, maps)
        else:
            fail("runtime library check skipped: not every service came up")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------------
# Kubernetes
# ------------------------------------------------------------------------------------------
def validate_model(obj, typ, path, errors):
    """Field names and types against the python3-kubernetes models (the API's OpenAPI)."""
    import kubernetes.client.models as M
    if typ.startswith("list["):
        if not isinstance(obj, list):
            errors.append("%s: expected a list" % path)
            return
        for i, x in enumerate(obj):
            validate_model(x, typ[5:-1], "%s[%d]" % (path, i), errors)
    elif typ.startswith("dict("):
        if not isinstance(obj, dict):
            errors.append("%s: expected a map" % path)
            return
        inner = typ[typ.index(",") + 1:-1].strip()
        for k, v in obj.items():
            if inner == "str" and isinstance(v, (int, float)) and not isinstance(v, bool) and \
                    path.endswith(("requests", "limits", "storage")):
                continue  # quantities may be numbers
            validate_model(v, inner, "%s.%s" % (path, k), errors)
    elif typ == "str":
        if not isinstance(obj, str):
            errors.append("%s: expected a string, got %r" % (path, obj))
    elif typ == "int":
        if not isinstance(obj, int) or isinstance(obj, bool):
            errors.append("%s: expected an integer, got %r" % (path, obj))
    elif typ == "bool":
        if not isinstance(obj, bool):
            errors.append("%s: expected true/false, got %r" % (path, obj))
    elif typ in ("object", "datetime", "float"):
        pass
    else:
        cls = getattr(M, typ)
        if not isinstance(obj, dict):
            errors.append("%s: expected an object (%s)" % (path, typ))
            return
        rev = {v: k for k, v in cls.attribute_map.items()}
        for k, v in obj.items():
            if k not in rev:
                errors.append("%s: unknown field '%s' in %s" % (path, k, typ))
                continue
            validate_model(v, cls.openapi_types[rev[k]], "%s.%s" % (path, k), errors)


def model_required(obj, typ):
    """Required fields and enums: the models' own client-side validation."""
    from kubernetes.client import ApiClient
    try:
        ApiClient()._ApiClient__deserialize(obj, typ)
        return None
    except (ValueError, TypeError) as e:
        return str(e)


def env_of(container, values):
    """A container's environment as the kubelet would give it, with `values` for the
    downward API (field paths) and secret keys; $(VAR) expanded from earlier entries."""
    out = {}
    for e in container.get("env", []):
        if "value" in e:
            v = re.sub(r"\$\((\w+)\)", lambda m: out.get(m.group(1), m.group(0)), e["value"])
        else:
            src = e["valueFrom"]
            if "fieldRef" in src:
                v = values[src["fieldRef"]["fieldPath"]]
            elif "secretKeyRef" in src:
                v = values["secret:" + src["secretKeyRef"]["key"]]
            else:
                v = ""
        out[e["name"]] = v
    return out


def mode_k8s(src, build):
    bins = Binaries(build)
    tmp = tempfile.mkdtemp(prefix="deploy-k8s-")
    try:
        docs = []
        for f in sorted(glob.glob(os.path.join(src, "deploy/k8s/*.yaml")) + glob.glob(os.path.join(src, "deploy/k8s/examples/*.yaml"))):
            for d in yaml.safe_load_all(open(f)):
                if d:
                    docs.append((os.path.relpath(f, src), d))
        check(len(docs) >= 10, "k8s: %d objects in deploy/k8s" % len(docs))
        kinds = {("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("apps/v1", "Deployment"),
                 ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"), ("networking.k8s.io/v1", "Ingress"),
                 ("policy/v1", "PodDisruptionBudget")}
        objs = {}
        for f, d in docs:
            key = (d.get("apiVersion"), d.get("kind"))
            name = "%s %s/%s" % (f, d.get("kind"), (d.get("metadata") or {}).get("name"))
            if key not in kinds:
                fail("%s: unexpected apiVersion/kind %s" % (name, key))
                continue
            errors = []
            validate_model(d, "V1" + d["kind"], d["kind"], errors)
            req = model_required(d, "V1" + d["kind"])
            if req:
                errors.append(req)
            check(not errors, "k8s schema: %s" % name, "; ".join(errors))
            if d["kind"] != "Namespace":
                check(d["metadata"].get("namespace") == "starling", "k8s: %s is in namespace starling" % name)
            objs.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
        check("starling" in objs.get("Namespace", {}), "k8s: Namespace starling defined")

        # ConfigMap == deploy/config/*.k8s.conf (and what kubectl would generate from them).
        cm = objs["ConfigMap"]["starling-config"]["data"]
        for svc in SERVICES:
            check(cm.get(svc + ".conf") == open(os.path.join(src, "deploy/config/%s.k8s.conf" % svc)).read(),
                  "k8s: ConfigMap %s.conf is deploy/config/%s.k8s.conf" % (svc, svc))
        if shutil.which("kubectl"):
            r = subprocess.run(["kubectl", "create", "configmap", "starling-config", "-n", "starling", "--dry-run=client", "-o", "yaml"] +
                               ["--from-file=%s.conf=%s" % (s, os.path.join(src, "deploy/config/%s.k8s.conf" % s)) for s in SERVICES],
                               capture_output=True, text=True, timeout=60)
            gen = yaml.safe_load(r.stdout) if r.returncode == 0 else None
            check(gen is not None and gen["data"] == cm, "kubectl create configmap --dry-run=client from the .conf files gives the same data", r.stderr[-300:])
        else:
            print("note: kubectl not installed: the ConfigMap is compared with the files only")

        secret_keys = set(objs["Secret"]["starling-secrets"]["stringData"])
        selectors_ok = True
        workloads = {}
        for kind in ("Deployment", "StatefulSet", "DaemonSet"):
            for name, d in objs.get(kind, {}).items():
                tpl = d["spec"]["template"]
                labels = tpl["metadata"]["labels"]
                sel = d["spec"]["selector"]["matchLabels"]
                if any(labels.get(k) != v for k, v in sel.items()):
                    selectors_ok = False
                    fail("k8s %s/%s: selector does not match the pod labels" % (kind, name))
                workloads[name] = (kind, d)
                pod = tpl["spec"]
                check(pod.get("enableServiceLinks") is False, "k8s %s: enableServiceLinks false (docs/configuration.md)" % name)
                for c in pod["containers"]:
                    res = c.get("resources", {}).get("requests", {})
                    check("cpu" in res and "memory" in res, "k8s %s/%s: cpu and memory requests" % (name, c["name"]))
                    check("readinessProbe" in c and "livenessProbe" in c, "k8s %s/%s: readiness and liveness probes" % (name, c["name"]))
                    for e in c.get("env", []):
                        ref = e.get("valueFrom", {}).get("secretKeyRef")
                        if ref:
                            check(ref["name"] == "starling-secrets" and ref["key"] in secret_keys,
                                  "k8s %s: secret key %s is in examples/secret.yaml" % (name, ref["key"]))
                for v in pod.get("volumes", []):
                    if "configMap" in v:
                        check(v["configMap"]["name"] in objs["ConfigMap"], "k8s %s: ConfigMap %s exists" % (name, v["configMap"]["name"]))
        if selectors_ok:
            ok("k8s: every workload's selector matches its pod labels")
        for name, svc in objs.get("Service", {}).items():
            sel = svc["spec"]["selector"]
            target = [w for w, (_, d) in workloads.items() if all(d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in sel.items())]
            check(target, "k8s Service %s selects a workload" % name)
            for w in target:
                ports = [p.get("name") for c in workloads[w][1]["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])]
                for p in svc["spec"]["ports"]:
                    tp = p.get("targetPort")
                    check(not isinstance(tp, str) or tp in ports, "k8s Service %s: targetPort %s is a port of %s" % (name, tp, w))

        # The Starling workloads: run each service as its pod would run it, on loopback.
        values = {"status.hostIP": "127.0.0.1", "spec.nodeName": "node-a.example.internal",
                  "metadata.name": "starling-signal-5f7d9c8b6d-x2x9z"}
        for k in secret_keys:
            values["secret:" + k] = "k8s-test-%s-0123456789abcdef" % k
        cl = Cluster(tmp, values["secret:redis-password"])
        try:
            base = free_block(10)
            relay = free_block(40)
            health = {}
            for svc in ("turn", "sfu", "signal"):
                name = "starling-" + svc
                if name not in workloads:
                    fail("k8s: no workload %s" % name)
                    continue
                kind, d = workloads[name]
                pod = d["spec"]["template"]["spec"]
                c = pod["containers"][0]
                check(c.get("args", [None])[0] == svc, "k8s %s: container runs the image's '%s' command" % (name, svc))
                env = env_of(c, values)
                bad = [k for k in env if k.startswith("STARLING_") and k not in bins.env_names[svc]]
                check(not bad, "k8s %s: every STARLING_ variable is an option of starling-%s" % (name, svc), str(bad))
                conf = os.path.join(src, "deploy/config/%s.k8s.conf" % svc)
                u = svc.upper()
                drain = env.get("STARLING_%s_SHUTDOWN_DRAIN_TIMEOUT" % u) or conf_value(conf, "shutdown.drain_timeout") or "10s"
                grace = pod.get("terminationGracePeriodSeconds", 30)
                check(grace > duration_s(drain), "k8s %s: terminationGracePeriodSeconds %d > drain_timeout %s" % (name, grace, drain))
                # The port the probes use is the one the service listens on.
                key = "listen" if svc == "signal" else "http.listen"
                listen = env.get("STARLING_%s_%s" % (u, key.upper().replace(".", "_"))) or conf_value(conf, key)
                lport = int(listen.rsplit(":", 1)[1])
                cports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
                for probe, path in (("readinessProbe", "/healthz"), ("livenessProbe", None)):
                    hg = c.get(probe, {}).get("httpGet", {})
                    pport = cports.get(hg.get("port"), hg.get("port"))
                    check(pport == lport and (path is None or hg.get("path") == path),
                          "k8s %s: %s is HTTP %s on the service's port %d" % (name, probe, hg.get("path"), lport), str(hg))
                if svc in ("sfu", "turn"):
                    check(kind == "DaemonSet" and pod.get("hostNetwork") is True and pod.get("dnsPolicy") == "ClusterFirstWithHostNet",
                          "k8s %s: hostNetwork DaemonSet resolving cluster DNS" % name)
                    check(any(e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "status.hostIP" for e in c["env"]),
                          "k8s %s: the node's IP from the downward API" % name)
                    for p in c.get("ports", []):
                        if p.get("hostPort") != p["containerPort"]:
                            fail("k8s %s: hostPort %s != containerPort %s" % (name, p.get("hostPort"), p["containerPort"]))
                if svc == "sfu":
                    workers = int(env.get("STARLING_SFU_WORKERS") or conf_value(conf, "workers") or 0)
                    udp_port = int(env["STARLING_SFU_UDP_LISTEN"].rsplit(":", 1)[1])
                    declared = sorted(p["containerPort"] for p in c["ports"] if p.get("protocol") == "UDP")
                    check(env["STARLING_SFU_UDP_LISTEN"].startswith("127.0.0.1:") and
                          declared == list(range(udp_port, udp_port + workers)),
                          "k8s sfu: media bound to the node IP, one UDP port per worker declared (%s)" % declared)
                # Loopback ports for this run; everything else as the pod has it.
                env["STARLING_%s_CONFIG" % u] = conf
                env["STARLING_%s_REDIS_HOST" % u] = "127.0.0.1"
                env["STARLING_%s_REDIS_PORT" % u] = str(cl.redis_port)
                if svc == "signal":
                    health[svc] = env["STARLING_SIGNAL_LISTEN"] = "127.0.0.1:%d" % base
                    env["STARLING_SIGNAL_WEB_ROOT"] = os.path.join(src, "services/signal/web")
                elif svc == "sfu":
                    env["STARLING_SFU_UDP_LISTEN"] = "127.0.0.1:%d" % (base + 1)
                    health[svc] = env["STARLING_SFU_HTTP_LISTEN"] = "127.0.0.1:%d" % (base + 4)
                else:
                    env["STARLING_TURN_LISTEN"] = env["STARLING_TURN_TCP_LISTEN"] = "127.0.0.1:%d" % (base + 5)
                    health[svc] = env["STARLING_TURN_HTTP_LISTEN"] = "127.0.0.1:%d" % (base + 6)
                    env["STARLING_TURN_RELAY_MIN_PORT"], env["STARLING_TURN_RELAY_MAX_PORT"] = str(relay), str(relay + 39)
                cl.start(svc, bins.path[svc], env)
            for svc in ("turn", "sfu", "signal"):
                if svc in health:
                    green, detail = cl.wait_green(svc, health[svc])
                    check(green, "k8s config + pod environment: starling-%s /healthz green" % svc, detail)
            r = subprocess.run(["redis-cli", "-p", str(cl.redis_port), "--no-auth-warning", "-a", values["secret:redis-password"],
                                "hget", "starling:node:sfu-node-a.example.internal", "public_ip"], capture_output=True, text=True)
            check(r.stdout.strip() == "127.0.0.1", "k8s sfu: registers as sfu-<node name> with the node's IP", r.stdout)
            for svc in ("signal", "sfu", "turn"):
                if svc in cl.procs:
                    rc = cl.stop(svc)
                    check(rc == 0, "starling-%s exits 0 after SIGTERM" % svc, str(rc))
        finally:
            cl.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("docker", "k8s"):
        sys.exit(__doc__)
    mode, src, build = sys.argv[1:]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    (mode_docker if mode == "docker" else mode_k8s)(src, build)
    if failures:
        print("%d failed" % len(failures))
        for f in failures:
            print("  - " + f)
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
