#!/usr/bin/env python3
"""Static checks of deploy/compose.yaml and its balancer config, without Docker.

    python3 scripts/lib/check-compose.py BIN [COMPOSE_FILE]

BIN is the oriel binary. Checks: the three node services each run `oriel serve` with flags that
`BIN serve --help` lists and that `BIN serve --check-config` accepts (with the service's
environment); each advertises http://SERVICE:PORT of its --listen port; each binds media on
its fixed network address and advertises a --public-ip; the nodes' media and TURN ports do not
overlap and are published with the same numbers; each node has a data volume of its own; the
nginx upstream lists exactly the three nodes; every file the compose file mounts exists.
Needs PyYAML (exit 2 when it is missing). Prints every problem, exits 1 if any.
"""
import ipaddress
import os
import re
import subprocess
import sys

try:
    import yaml
except ImportError:
    print("check-compose: PyYAML is not installed", file=sys.stderr)
    sys.exit(2)

NODES = ["node1", "node2", "node3"]
MEDIA_PORTS = 16  # design.md: a worker per port, at most 16
TURN_OFFSET = 100  # --turn-port default: --media-port + 100

problems = []


def problem(message):
    problems.append(message)


def interpolate(value):
    """Compose's ${VAR:-default} / ${VAR} / $VAR, from this environment."""

    def one(match):
        name, default = match.group(1) or match.group(3), match.group(2)
        return os.environ.get(name) or (default or "")

    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)", one, str(value))


def flag_values(command):
    """--flag=value / --flag value pairs of a command list, in order."""
    flags, i = [], 0
    while i < len(command):
        arg = command[i]
        if arg.startswith("--"):
            if "=" in arg:
                name, value = arg.split("=", 1)
            elif i + 1 < len(command) and not command[i + 1].startswith("--"):
                name, value = arg, command[i + 1]
                i += 1
            else:
                name, value = arg, None
            flags.append((name, value))
        i += 1
    return flags


def published(service):
    """(protocol, host port, container port) of each published port, ranges expanded."""
    out = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            protocol = entry.get("protocol", "tcp")
            host, target = str(entry.get("published", "")), str(entry["target"])
        else:
            spec, _, protocol = str(entry).partition("/")
            protocol = protocol or "tcp"
            parts = spec.split(":")
            if len(parts) < 2:
                problem(f"port {entry!r} is not published on a fixed host port")
                continue
            host, target = parts[-2], parts[-1]

        def expand(r):
            first, _, last = r.partition("-")
            return list(range(int(first), int(last or first) + 1))

        hosts, targets = expand(host), expand(target)
        if len(hosts) != len(targets):
            problem(f"port {entry!r}: host and container ranges differ in length")
            continue
        out += [(protocol, h, t) for h, t in zip(hosts, targets)]
    return out


def main():
    bin_path = sys.argv[1]
    compose_path = sys.argv[2] if len(sys.argv) > 2 else "deploy/compose.yaml"
    base = os.path.dirname(os.path.abspath(compose_path))
    with open(compose_path) as f:
        compose = yaml.safe_load(f)
    services = compose.get("services") or {}
    help_text = subprocess.run(
        [bin_path, "serve", "--help"], capture_output=True, text=True, check=True
    ).stdout
    known_flags = set(re.findall(r"^\s*(?:-\w, )?(--[a-z0-9-]+)", help_text, re.M))
    known_env = set(re.findall(r"\[env: (\w+)", help_text))

    oriel = sorted(
        name
        for name, s in services.items()
        if (s.get("command") or [None])[0] == "serve" or "build" in s
    )
    if oriel != NODES:
        problem(f"the Oriel services are {oriel}, not {NODES}")

    networks = compose.get("networks") or {}
    subnets = [
        ipaddress.ip_network(c["subnet"])
        for n in networks.values()
        for c in ((n or {}).get("ipam") or {}).get("config", [])
        if "subnet" in c
    ]
    taken = {}  # (protocol, port) -> node
    volumes = {}
    upstream = []  # what the balancer should list
    for name in NODES:
        service = services.get(name)
        if not service:
            continue
        command = [interpolate(a) for a in service.get("command") or []]
        if command[:1] != ["serve"]:
            problem(f"{name} does not run `oriel serve`: {command}")
            continue
        env = {k: interpolate(v) for k, v in (service.get("environment") or {}).items()}
        for var in env:
            if var.startswith("ORIEL_") and var not in known_env:
                problem(f"{name}: {var} is no environment variable of `oriel serve`")
        flags = flag_values(command[1:])
        for flag, _ in flags:
            if flag not in known_flags:
                problem(f"{name}: {flag} is not in `oriel serve --help`")
        values = dict(flags)
        # The binary itself parses the node's settings, as the container would.
        checked = subprocess.run(
            [bin_path] + command + ["--check-config"],
            capture_output=True,
            text=True,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("ORIEL_")}, **env},
        )
        if checked.returncode != 0:
            problem(f"{name}: `oriel serve --check-config` refused it: {checked.stderr.strip()}")
        for needed in ["ORIEL_DATABASE_URL", "ORIEL_REDIS_URL"]:
            flag = "--" + needed[len("ORIEL_"):].lower().replace("_", "-")
            if needed not in env and flag not in values:
                problem(f"{name} has neither {flag} nor {needed}")
        listen_port = (values.get("--listen") or "127.0.0.1:8080").rsplit(":", 1)[1]
        upstream.append(f"{name}:{listen_port}")
        if values.get("--advertise-url") != f"http://{name}:{listen_port}":
            problem(
                f"{name} advertises {values.get('--advertise-url')}, not http://{name}:{listen_port}"
            )
        # Media bound on the node's own fixed address, advertised as the host's.
        media_ip = values.get("--media-ip")
        attached = service.get("networks") or {}
        addresses = [
            (n or {}).get("ipv4_address") for n in attached.values()
        ] if isinstance(attached, dict) else []
        if media_ip not in addresses:
            problem(f"{name}: --media-ip {media_ip} is not its network address ({addresses})")
        elif subnets and not any(ipaddress.ip_address(media_ip) in s for s in subnets):
            problem(f"{name}: --media-ip {media_ip} is outside the network's subnet")
        if not values.get("--public-ip"):
            problem(f"{name} has no --public-ip: browsers would be told its network address")
        media_port = int(values.get("--media-port", 50000))
        tcp_port = int(values.get("--media-tcp-port", media_port))
        turn_port = int(values.get("--turn-port", media_port + TURN_OFFSET))
        needed = [("udp", media_port + i) for i in range(MEDIA_PORTS)]
        if tcp_port:
            needed += [("tcp", tcp_port + i) for i in range(MEDIA_PORTS)]
        if turn_port:
            needed += [("udp", turn_port), ("tcp", turn_port)]
        ports = {(p, h): t for p, h, t in published(service)}
        for protocol, port in needed:
            if ports.get((protocol, port)) != port:
                problem(f"{name}: {port}/{protocol} is not published as the same host port")
            other = taken.setdefault((protocol, port), name)
            if other != name:
                problem(f"{name}: {port}/{protocol} is also {other}'s")
        data = [
            str(v).split(":")[0]
            for v in service.get("volumes") or []
            if str(v).split(":")[1:2] == [values.get("--data-dir", "./data")]
        ]
        if not data:
            problem(f"{name}: no volume holds its --data-dir")
        for v in data:
            if v in volumes:
                problem(f"{name} shares its data volume {v} with {volumes[v]}")
            volumes[v] = name

    # Every file mounted from the repository exists; the balancer's config is nginx's.
    nginx_conf = None
    for name, service in services.items():
        for v in service.get("volumes") or []:
            source = str(v).split(":")[0]
            if source.startswith((".", "/")):
                path = os.path.normpath(os.path.join(base, source))
                if not os.path.exists(path):
                    problem(f"{name} mounts {source}, which does not exist")
                elif str(v).split(":")[1] == "/etc/nginx/nginx.conf":
                    nginx_conf = path
        build = service.get("build")
        if build:
            context = build if isinstance(build, str) else build.get("context", ".")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            if not os.path.exists(os.path.join(base, context, dockerfile)):
                problem(f"{name} builds {os.path.join(context, dockerfile)}, which does not exist")
    if nginx_conf is None:
        problem("no service mounts a balancer config at /etc/nginx/nginx.conf")
    else:
        text = re.sub(r"#.*", "", open(nginx_conf).read())
        upstreams = re.findall(r"\bupstream\s+\w+\s*\{([^}]*)\}", text)
        servers = sorted(re.findall(r"\bserver\s+([^\s;]+)", "".join(upstreams)))
        wanted = sorted(upstream)
        if servers != wanted:
            problem(f"the balancer's upstream lists {servers}, not {wanted}")
        for directive in ["proxy_next_upstream", "max_fails", "proxy_set_header Upgrade"]:
            if directive not in text:
                problem(f"the balancer's config lacks {directive}")

    for p in problems:
        print(f"check-compose: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
