#!/usr/bin/python3
"""Replays deploy/docker/Dockerfile in Debian 12 chroots, for machines without a Docker engine.

    sudo deploy/docker/chroot-build.py [--work DIR] [--smoke]

Each FROM stage becomes a fresh `debootstrap --variant=minbase bookworm` tree (close to the
debian:12 and debian:12-slim images: both are minbase Debian 12; cached as a tarball under
--work), and the instructions run in it as `docker build` would run them: ARG and ENV set
variables, WORKDIR makes and enters a directory, COPY copies from the build context (the
repository root) or from an earlier stage (--from=), RUN runs /bin/sh -c in the chroot with
the ENV variables. USER, HEALTHCHECK, ENTRYPOINT, CMD, EXPOSE, LABEL and STOPSIGNAL are
recorded. The last stage's tree is the "image" (printed at the end).

--smoke then starts the three services inside the image tree (mounted read-only) as the
image's USER, on
loopback ports, with a redis-server of the host, and runs the image's HEALTHCHECK for each:
the runtime stage's libraries, users, paths, configs and health check are all exercised.

Needs root, debootstrap and the Debian mirror (apt). This is a development check, not part of
`make test` (it downloads a few hundred MB); tests/integration/test_deploy_docker.sh does the
offline checks. Differences from a real `docker build`: the base trees come from debootstrap
instead of the registry; there is no layer cache, no .dockerignore, and no isolation of the
network (RUN steps see the host's network, and the smoke run uses 127.0.0.1 only).
"""
import argparse
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIRROR = "http://deb.debian.org/debian"


def log(msg):
    print("chroot-build: " + msg, flush=True)


def parse_dockerfile(path):
    """Instructions as (KEYWORD, text), continuation lines joined, comments dropped."""
    out, cur = [], ""
    for raw in open(path):
        line = raw.rstrip("\n")
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if cur and line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        cur += line
        kw, _, rest = cur.strip().partition(" ")
        out.append((kw.upper(), rest.strip()))
        cur = ""
    return out


def subst(text, env):
    def rep(m):
        name = m.group(1) or m.group(2)
        return env.get(name, "")
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", rep, text)


class Chroot:
    def __init__(self, root):
        self.root = root
        self.mounted = []

    def mount(self, resolv=True):
        for what, where, args in (("proc", "proc", ["-t", "proc"]), ("/dev", "dev", ["--bind"]),
                                  ("/dev/pts", "dev/pts", ["--bind"])):
            target = os.path.join(self.root, where)
            os.makedirs(target, exist_ok=True)
            subprocess.run(["mount"] + args + [what, target], check=True)
            self.mounted.append(target)
        if resolv:
            shutil.copy("/etc/resolv.conf", os.path.join(self.root, "etc/resolv.conf"))

    def umount(self):
        for target in reversed(self.mounted):
            subprocess.run(["umount", "-l", target])
        self.mounted = []


def base_tree(work, name, image):
    """A minbase Debian 12 tree for `image` (debian:12 or debian:12-slim), from a cached tarball."""
    if not re.match(r"^debian:(12|bookworm)(-slim)?$", image):
        sys.exit("chroot-build: only debian:12 / debian:12-slim bases are emulated, not %s" % image)
    tarball = os.path.join(work, "bookworm-minbase.tar")
    if not os.path.exists(tarball):
        tmp = os.path.join(work, "debootstrap")
        shutil.rmtree(tmp, ignore_errors=True)
        log("debootstrap --variant=minbase bookworm (once; cached in %s)" % tarball)
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", tmp, MIRROR], check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(tmp, "etc/apt/sources.list"), "w") as f:
            f.write("deb %s bookworm main\ndeb %s bookworm-updates main\n"
                    "deb http://deb.debian.org/debian-security bookworm-security main\n"
                    % (MIRROR, MIRROR))
        subprocess.run(["tar", "-C", tmp, "-cf", tarball, "."], check=True)
        shutil.rmtree(tmp)
    root = os.path.join(work, "stage-" + name)
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    subprocess.run(["tar", "-C", root, "-xf", tarball], check=True)
    return root


def copy_into(src, root, dest, cwd):
    if not dest.startswith("/"):
        dest = os.path.join(cwd, dest)
    target = os.path.join(root, dest.lstrip("/"))
    if os.path.isdir(src):
        os.makedirs(target, exist_ok=True)
        subprocess.run(["cp", "-a", src.rstrip("/") + "/.", target], check=True)
    else:
        if dest.endswith("/"):
            os.makedirs(target, exist_ok=True)
            target = os.path.join(target, os.path.basename(src))
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(src, target)


def build(dockerfile, work, execute=True):
    """Runs the Dockerfile; with execute=False only reads it (ENV, USER...) and takes the
    stage trees an earlier run left in `work`."""
    instrs = parse_dockerfile(dockerfile)
    global_args = {}
    stages = {}
    st = None
    for kw, rest in instrs:
        if kw == "ARG" and st is None:
            k, _, v = rest.partition("=")
            global_args[k] = v
            continue
        if kw == "FROM":
            if st:
                st["chroot"].umount()
            parts = rest.split()
            image = subst(parts[0], global_args)
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(len(stages))
            root = base_tree(work, name, image) if execute else os.path.join(work, "stage-" + name)
            if not os.path.isdir(root):
                sys.exit("chroot-build: no %s from an earlier run" % root)
            st = {"name": name, "root": root, "env": {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                  "HOME": "/root"}, "args": {}, "cwd": "/", "chroot": Chroot(root), "meta": {}}
            if execute:
                st["chroot"].mount()
            stages[name] = st
            log("FROM %s AS %s -> %s" % (image, name, root))
            continue
        vars_ = dict(global_args, **st["args"], **st["env"])
        if kw == "ARG":
            k, _, v = rest.partition("=")
            st["args"][k] = global_args.get(k, v) if not v else subst(v, vars_)
        elif kw == "ENV":
            for tok in shlex.split(rest):
                k, _, v = tok.partition("=")
                st["env"][k] = subst(v, vars_)
        elif kw == "WORKDIR":
            st["cwd"] = subst(rest, vars_)
            os.makedirs(os.path.join(st["root"], st["cwd"].lstrip("/")), exist_ok=True)
        elif kw in ("COPY", "RUN") and not execute:
            pass
        elif kw == "COPY":
            toks = shlex.split(rest)
            frm = None
            while toks[0].startswith("--"):
                opt = toks.pop(0)
                if opt.startswith("--from="):
                    frm = opt.split("=", 1)[1]
                else:
                    sys.exit("chroot-build: COPY option %s is not emulated" % opt)
            srcs, dest = toks[:-1], subst(toks[-1], vars_)
            base = stages[frm]["root"] if frm else SRC
            for s in srcs:
                copy_into(os.path.join(base, s.lstrip("/")) if frm else os.path.join(SRC, s), st["root"], dest, st["cwd"])
            log("COPY %s" % rest)
        elif kw == "RUN":
            cmd = rest  # the shell in the chroot expands $VARIABLES from the environment below
            env = dict(global_args, **st["args"], **st["env"])
            log("RUN %s" % (cmd if len(cmd) < 160 else cmd[:157] + "..."))
            r = subprocess.run(["chroot", st["root"], "/bin/sh", "-c", "cd %s && %s" % (shlex.quote(st["cwd"]), cmd)],
                               env=env)
            if r.returncode != 0:
                st["chroot"].umount()
                sys.exit("chroot-build: RUN failed with status %d in stage %s" % (r.returncode, st["name"]))
        elif kw in ("USER", "HEALTHCHECK", "ENTRYPOINT", "CMD", "EXPOSE", "LABEL", "STOPSIGNAL"):
            st["meta"][kw] = rest
        else:
            sys.exit("chroot-build: instruction %s is not emulated" % kw)
    st["chroot"].umount()
    return st


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def healthz(port):
    try:
        return urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=2).status == 200
    except Exception:
        return False


def smoke(st):
    # The image tree, bind-mounted read-only (as compose's read_only: true and the pods'
    # readOnlyRootFilesystem run it).
    root = st["root"] + "-ro"
    os.makedirs(root, exist_ok=True)
    subprocess.run(["mount", "--bind", st["root"], root], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", root], check=True)
    user = st["meta"].get("USER", "0:0")
    uid, _, gid = user.partition(":")
    ch = Chroot(root)
    ch.mount(resolv=False)
    procs = []
    try:
        rport = free_port()
        procs.append(subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(rport), "--save", "",
                                       "--appendonly", "no"], stdout=subprocess.DEVNULL))
        time.sleep(0.5)
        ports = {k: free_port() for k in ("signal", "sfu_http", "turn", "turn_http")}
        sfu_udp = 27882
        common = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/nonexistent"}
        common.update(st["env"])
        envs = {
            "turn": {"STARLING_TURN_LISTEN": "127.0.0.1:%d" % ports["turn"], "STARLING_TURN_TCP_LISTEN": "127.0.0.1:%d" % ports["turn"],
                     "STARLING_TURN_HTTP_LISTEN": "127.0.0.1:%d" % ports["turn_http"], "STARLING_TURN_RELAY_IPV4": "127.0.0.1",
                     "STARLING_TURN_RELAY_MIN_PORT": "27900", "STARLING_TURN_RELAY_MAX_PORT": "27950",
                     "STARLING_TURN_REDIS_PORT": str(rport)},
            "sfu": {"STARLING_SFU_UDP_LISTEN": "127.0.0.1:%d" % sfu_udp, "STARLING_SFU_HTTP_LISTEN": "127.0.0.1:%d" % ports["sfu_http"],
                    "STARLING_SFU_PUBLIC_IP": "127.0.0.1", "STARLING_SFU_REDIS_PORT": str(rport)},
            "signal": {"STARLING_SIGNAL_LISTEN": "127.0.0.1:%d" % ports["signal"], "STARLING_SIGNAL_API_SECRET": "chroot-smoke-secret-0123456789",
                       "STARLING_SIGNAL_TURN_SECRET": "chroot-smoke-turn", "STARLING_SIGNAL_REDIS_PORT": str(rport)},
        }
        health = {"turn": ports["turn_http"], "sfu": ports["sfu_http"], "signal": ports["signal"]}
        for svc in ("turn", "sfu", "signal"):
            env = dict(common, **envs[svc])
            procs.append(subprocess.Popen(["chroot", "--userspec=%s:%s" % (uid, gid or uid), root,
                                           "/usr/local/bin/starling", svc], env=env))
        ok = True
        for svc in ("turn", "sfu", "signal"):
            for _ in range(100):
                if healthz(health[svc]):
                    break
                time.sleep(0.2)
            green = healthz(health[svc])
            pid = procs[("turn", "sfu", "signal").index(svc) + 1].pid
            # The image's own HEALTHCHECK command, run inside the image as its user. A chroot
            # shares the host's PID namespace, so name the process (in a container it is the
            # only starling-* process and the check finds it alone).
            hc = subprocess.run(["chroot", "--userspec=%s:%s" % (uid, gid or uid), root,
                                 "/usr/local/bin/starling-healthcheck", str(pid)], env=common)
            log("smoke: %s /healthz %s; image HEALTHCHECK exit %d (pid %d)" % (svc, "green" if green else "NOT green",
                                                                                hc.returncode, pid))
            ok = ok and green and hc.returncode == 0
        page = urllib.request.urlopen("http://127.0.0.1:%d/" % ports["signal"], timeout=2).read().decode()
        log("smoke: demo page %s" % ("served" if "<title>Starling" in page else "MISSING"))
        ok = ok and "<title>Starling" in page
        for p in procs[1:]:
            p.send_signal(signal.SIGTERM)
        for p in procs[1:]:
            p.wait(timeout=40)
            log("smoke: exit status %d after SIGTERM" % p.returncode)
            ok = ok and p.returncode == 0
        return ok
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        ch.umount()
        subprocess.run(["umount", root])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/starling-chroot-build")
    ap.add_argument("--dockerfile", default=os.path.join(SRC, "deploy/docker/Dockerfile"))
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--smoke-only", action="store_true", help="smoke-test the trees of an earlier run")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("chroot-build: run as root (debootstrap, chroot, mount)")
    os.makedirs(a.work, exist_ok=True)
    st = build(a.dockerfile, a.work, execute=not a.smoke_only)
    log("image tree: %s (USER %s, ENTRYPOINT %s)" % (st["root"], st["meta"].get("USER"), st["meta"].get("ENTRYPOINT")))
    if a.smoke or a.smoke_only:
        ok = smoke(st)
        log("smoke: %s" % ("PASS" if ok else "FAIL"))
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
