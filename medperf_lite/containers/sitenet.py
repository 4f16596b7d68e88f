"""A site per network namespace: each user of a run (the aggregator's owner, each data owner,
the model owner) gets a network namespace of their own with one address, on a bridge of the
run's own, all made here and removed here. Two Flower SuperNodes that each listen on
127.0.0.1:9094 then do not collide, and an aggregator's registered address is its site's.

Nothing here dials or routes anywhere else: the bridge has no address on the host and no
route out, so a site reaches only the run's other sites. The subnet is a /24 of 10.213.0.0/16
that no interface of the host and no other run uses.

Every network is recorded in ``STATE`` (its owner's PID, its names and addresses) before it
is made, so that it is removed after the run, also after a failure; after a kill of its owner,
its reaper (a small process that waits for the owner's end) removes it, and any later run
sweeps a network whose owner is gone. The processes still inside a site's namespace when it
goes are the run's: they are killed first.

The Docker runner cannot join a namespace by path: there a run's sites are one Docker network
of the run's own (``--internal``, no route out), each site's containers at the site's address.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from medperf_lite.errors import MedperfError

SITE_LABEL = "medperf-lite.site-of"  # a Docker site's holder container: the run's network it holds an address on

STATE = Path("/run/medperf-lite/sitenet")  # one per machine: every run's subnet is chosen against it
SUPERNET = ipaddress.ip_network("10.213.0.0/16")
CLONE_NEWNET = 0x40000000
MODES = ("sites", "host")
RECORDED = ("run", "subnet", "owner", "kind", "sites", "namespaces")  # a network's record in STATE


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise MedperfError(f"'ip {' '.join(args)}' failed: {done.stderr.strip() or done.returncode}")
    return done


def available() -> str | None:
    """None when per-site namespaces can be made here; else why not."""
    if os.geteuid() != 0:
        return "per-site network namespaces need root (ip netns); run as root or choose --network host"
    if not shutil.which("ip") or not shutil.which("nsenter"):
        return "per-site network namespaces need iproute2's ip and util-linux's nsenter"
    return None


@dataclass
class SiteNet:
    run: str  # 8 hex characters of the run's ID: every name below carries it
    subnet: str  # 10.213.X.0/24
    owner: int  # the PID whose end makes the network stale
    kind: str = "netns"  # or "docker"
    sites: dict[str, str] = field(default_factory=dict)  # user -> address
    namespaces: dict[str, str] = field(default_factory=dict)  # user -> netns name (kind netns)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def bridge(self) -> str:
        return f"mlb{self.run}"  # IFNAMSIZ: 15 at most

    @property
    def network(self) -> str:
        return f"medperf-lite-{self.run}"  # the Docker network's name

    def veth(self, index: int) -> str:
        return f"mlv{self.run}{index:02x}"  # the host's end of site ``index``'s link to the bridge

    @property
    def state_file(self) -> Path:
        return STATE / f"{self.run}.json"

    def save(self) -> None:
        STATE.mkdir(parents=True, exist_ok=True)
        record = {name: getattr(self, name) for name in RECORDED}
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1))
        tmp.replace(self.state_file)

    @classmethod
    def load(cls, path: Path) -> SiteNet:
        record = json.loads(path.read_text())
        return cls(**record)

    # -------------------------------------------------------------- making it

    @classmethod
    def create(cls, run_id: str, kind: str = "netns") -> SiteNet:
        why = available() if kind == "netns" else None
        if why:
            raise MedperfError(why)
        sweep()
        STATE.mkdir(parents=True, exist_ok=True)
        with open(STATE / ".lock", "w") as lock:  # two runs starting at once take two subnets
            fcntl.flock(lock, fcntl.LOCK_EX)
            net = cls(run_id[:8], str(_free_subnet()), os.getpid(), kind)
            net.save()  # recorded before anything exists, so nothing made is ever unrecorded
        try:
            if kind == "netns":
                _ip("link", "add", net.bridge, "type", "bridge")
                _ip("link", "set", net.bridge, "up")
            else:
                _docker_network(net)
        except BaseException:
            net.remove()
            raise
        return net

    def address(self, user: str) -> str:
        """The user's site address, its namespace made at first use."""
        with self.lock:
            if user not in self.sites:
                index = len(self.sites) + 2  # .1 stays free (Docker's gateway)
                hosts = ipaddress.ip_network(self.subnet)
                if index >= hosts.num_addresses - 1:
                    raise MedperfError(f"more than {hosts.num_addresses - 3} sites in one run")
                address = str(hosts.network_address + index)
                self.sites[user] = address
                if self.kind == "netns":
                    self.namespaces[user] = f"medperf-lite-{self.run}-{index}"
                self.save()
                if self.kind == "netns":
                    self._namespace(user, index, address)
            return self.sites[user]

    def _namespace(self, user: str, index: int, address: str) -> None:
        name, veth = self.namespaces[user], self.veth(index)
        _ip("netns", "add", name)
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
        _ip("link", "set", veth, "master", self.bridge, "up")
        prefix = ipaddress.ip_network(self.subnet).prefixlen
        _ip("-n", name, "addr", "add", f"{address}/{prefix}", "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")
        _ip("-n", name, "link", "set", "lo", "up")

    def enter(self, user: str) -> list[str]:
        """The argv prefix that runs a command in the user's site (nothing for Docker's: there
        the runner puts the user's containers on the network)."""
        self.address(user)
        if self.kind != "netns":
            return []
        return ["nsenter", f"--net=/run/netns/{self.namespaces[user]}", "--"]

    def environment(self, user: str) -> dict[str, str]:
        """What the user's commands learn of their site: its address (``hostname -I``'s, for
        the tutorial's aggregator) and, for Docker, the network to put containers on."""
        from medperf_lite.settings import to_env

        return to_env(site_address=self.address(user), docker_network=self.network if self.kind == "docker" else None)

    def reachable(self, port: int, timeout: float = 1.0) -> bool:
        """Does any site listen on ``port`` at its address (dialled from inside a site)?"""
        from medperf_lite import net

        sites = list(self.sites.items())
        if not sites:
            return False
        if self.kind != "netns":
            return any(net.reachable(address, port, timeout) for _, address in sites)
        namespace = self.namespaces[sites[0][0]]
        return in_namespace(namespace, lambda: any(net.reachable(a, port, timeout) for _, a in sites))

    # -------------------------------------------------------------- removing it

    def remove(self) -> list[int]:
        """Removes every namespace, veth, bridge or Docker network of the run and its record;
        returns the PIDs that were still inside a namespace (killed)."""
        killed: list[int] = []
        if self.kind == "netns":
            for name in self.namespaces.values():
                killed += _kill_inside(name)
                _ip("netns", "delete", name, check=False)  # its veth's peer goes with it
            for index in range(2, len(self.sites) + 2):
                _ip("link", "delete", self.veth(index), check=False)
            _ip("link", "delete", self.bridge, check=False)
        elif not _remove_docker_network(self.network):
            return killed  # recorded still: the next sweep removes it
        self.state_file.unlink(missing_ok=True)
        return killed


def _kill_inside(namespace: str) -> list[int]:
    pids = [int(p) for p in _ip("netns", "pids", namespace, check=False).stdout.split() if p.isdigit()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


def in_namespace(namespace: str, action: Callable[[], object]) -> object:
    """``action()`` in a thread that has joined the network namespace: its sockets are the
    namespace's; the rest of the process stays where it is."""
    result: dict[str, object] = {}

    def target() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {namespace}")
            finally:
                os.close(fd)
            result["value"] = action()
        except BaseException as e:  # noqa: BLE001 (handed to the caller)
            result["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result.get("value")


def _used_subnets() -> set[ipaddress.IPv4Network]:
    used = set()
    for path in STATE.glob("*.json"):
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            used.add(ipaddress.ip_network(json.loads(path.read_text())["subnet"]))
    for line in _ip("-4", "-o", "addr", "show", check=False).stdout.splitlines():
        parts = line.split()
        if "inet" in parts:
            with contextlib.suppress(ValueError):
                used.add(ipaddress.ip_interface(parts[parts.index("inet") + 1]).network)
    for line in _ip("-4", "route", "show", check=False).stdout.splitlines():
        with contextlib.suppress(ValueError, IndexError):
            used.add(ipaddress.ip_network(line.split()[0]))
    return used


def _free_subnet() -> ipaddress.IPv4Network:
    used = _used_subnets()
    for subnet in SUPERNET.subnets(new_prefix=24):
        if not any(subnet.overlaps(u) for u in used if u.prefixlen > 0):
            return subnet
    raise MedperfError(f"no free /24 left in {SUPERNET} for a run's sites")


def _docker_network(net: SiteNet) -> None:
    import docker.types

    from medperf_lite.containers.docker_build import engine

    pool = docker.types.IPAMPool(subnet=net.subnet, gateway=str(ipaddress.ip_network(net.subnet).network_address + 1))
    engine().networks.create(net.network, driver="bridge", internal=True, labels={"medperf-lite.run": net.run},
                             ipam=docker.types.IPAMConfig(pool_configs=[pool]))


def _remove_docker_network(name: str) -> bool:
    """Removes the run's Docker network, its sites' holder containers removed and its last
    containers disconnected first; False when the engine could not be asked (the record stays,
    a later sweep tries again)."""
    import docker.errors

    from medperf_lite.containers.docker_build import engine

    try:
        client = engine()
        network = client.networks.get(name)
    except docker.errors.NotFound:
        return True
    except (MedperfError, docker.errors.DockerException):  # no engine: nothing can be removed now
        return False
    with contextlib.suppress(docker.errors.DockerException):
        for holder in client.containers.list(all=True, filters={"label": f"{SITE_LABEL}={name}"}):
            with contextlib.suppress(docker.errors.DockerException):
                holder.remove(force=True)
    for attempt in range(5):
        try:
            network.reload()
            for container in network.containers:
                with contextlib.suppress(docker.errors.APIError):
                    network.disconnect(container, force=True)
            network.remove()
            return True
        except docker.errors.NotFound:
            return True
        except docker.errors.APIError:
            time.sleep(1 + attempt)  # a container of the run is still being removed
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep() -> list[str]:
    """Removes the networks whose owner is gone (a killed run's); returns their runs."""
    removed = []
    for path in sorted(STATE.glob("*.json")):
        try:
            net = SiteNet.load(path)
        except (OSError, ValueError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if not _alive(net.owner):
            net.remove()
            removed.append(net.run)
    return removed


def site_addresses() -> frozenset[str]:
    """Every site address of a live run's network on this host: the only addresses besides
    loopback that an aggregator may be registered at."""
    found: set[str] = set()
    for path in STATE.glob("*.json"):
        with contextlib.suppress(OSError, ValueError, TypeError):
            net = SiteNet.load(path)
            if _alive(net.owner):
                found.update(net.sites.values())
    return frozenset(found)


def start_reaper(net: SiteNet) -> subprocess.Popen:
    """A process that removes ``net`` once this one is gone, however it goes (SIGKILL too): it
    waits on a pipe only this process holds. After a clean end it finds nothing to remove."""
    reaper = subprocess.Popen([sys.executable, "-m", "medperf_lite.containers.sitenet", "reap", str(net.state_file)],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    return reaper


def stop_reaper(reaper: subprocess.Popen) -> None:
    with contextlib.suppress(OSError):
        reaper.stdin.close()
    try:
        reaper.wait(10)
    except subprocess.TimeoutExpired:
        reaper.kill()
        reaper.wait()


def _reap(state_file: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C to the terminal reaches the whole group
    sys.stdin.buffer.read()  # EOF: the owner closed it or is gone
    path = Path(state_file)
    if path.exists():
        with contextlib.suppress(MedperfError, OSError, ValueError, subprocess.SubprocessError):  # nothing to tell
            SiteNet.load(path).remove()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "reap":
        _reap(sys.argv[2])
