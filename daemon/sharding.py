"""Which replica watches which camera: rendezvous (highest-random-weight) hashing of camera names.

Every replica reads the same full config and keeps the cameras it wins, so no coordinator is needed and
each camera is watched by exactly one replica. Each (camera, shard) pair gets a score from a stable hash;
a camera belongs to the shard with the highest score. Going from N to N+1 replicas moves only the
cameras the new shard now wins (about 1/(N+1) of them) and none between the old shards; going down moves
only the removed shard's cameras. A modulo of the name's hash would move nearly all of them.

A replica learns its shard from ``--shard I/N``, from ``SITEWATCH_SHARD=I/N``, or in a Kubernetes
StatefulSet from its pod name ``<name>-<ordinal>`` (``POD_NAME``, else the host name) with the replica
count in ``SITEWATCH_REPLICAS`` (deploy/k8s/).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Iterable, Mapping

from .config import Config, ConfigError, Replica, Shard

SHARD_ENV = "SITEWATCH_SHARD"
REPLICAS_ENV = "SITEWATCH_REPLICAS"
POD_ENV = "POD_NAME"
_ORDINAL = re.compile(r"^.+-(\d+)$")


def parse_shard(text: str, where: str = "--shard") -> Shard:
    """``"I/N"`` with 0 <= I < N; anything else is a ConfigError naming ``where``."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise ConfigError([f"{where}: {text!r} is not I/N (this replica's index and the replica count)"])
    index, count = int(match[1]), int(match[2])
    if count < 1 or index >= count:
        raise ConfigError([f"{where}: {text!r}: the index must be 0..N-1 and N at least 1"])
    return Shard(index, count)


def shard_from_environment(env: Mapping[str, str] | None = None) -> Shard | None:
    """``SITEWATCH_SHARD=I/N``, else a StatefulSet ordinal (``POD_NAME`` or the host name ending in
    ``-<ordinal>``) with ``SITEWATCH_REPLICAS=N``; None when neither is set."""
    env = os.environ if env is None else env
    if env.get(SHARD_ENV):
        return parse_shard(env[SHARD_ENV], SHARD_ENV)
    replicas = env.get(REPLICAS_ENV)
    if not replicas:
        return None
    pod = env.get(POD_ENV) or socket.gethostname()
    match = _ORDINAL.match(pod)
    if not match:
        raise ConfigError(
            [f"{REPLICAS_ENV}={replicas} but the pod name {pod!r} has no StatefulSet ordinal (<name>-<n>); "
             f"set {SHARD_ENV}=I/N instead"]
        )  # fmt: skip
    return parse_shard(f"{match[1]}/{replicas}", f"{REPLICAS_ENV} with pod {pod}")


def _score(camera: str, shard: int) -> int:
    digest = hashlib.blake2b(f"{shard}\0{camera}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(camera: str, count: int) -> int:
    """The shard (0..count-1) that watches ``camera``."""
    return max(range(count), key=lambda shard: (_score(camera, shard), -shard))


def assignment(cameras: Iterable[str], count: int) -> dict[int, list[str]]:
    """Shard → the cameras it watches (in the config's order), every shard present."""
    out: dict[int, list[str]] = {i: [] for i in range(count)}
    for name in cameras:
        out[owner(name, count)].append(name)
    return out


def host_name(shard: Shard | None) -> str:
    host = socket.gethostname()
    if shard is None:
        return host
    match = _ORDINAL.match(host)
    if match and int(match[1]) == shard.index:
        return host  # a StatefulSet pod: its name already says which replica it is
    return f"{host}-shard{shard.index}"


def select(config: Config, shard: Shard | None) -> Config:
    """The config this replica runs: the full config's cameras that ``shard`` owns (all of them
    unsharded), with the ``Replica`` attached (``config.replica``)."""
    if shard is None:
        mine = config
    else:
        names = set(assignment((c.name for c in config.cameras), shard.count)[shard.index])
        mine = config.model_copy(update={"cameras": [c for c in config.cameras if c.name in names]})
    mine.attach_replica(Replica(shard=shard, host=host_name(shard), fleet=config))
    return mine


def describe_assignment(config: Config, count: int) -> str:
    """``check-config --shard``'s table: each shard's cameras."""
    table = assignment((c.name for c in config.cameras), count)
    lines = [f"shards: {count} (rendezvous hashing of camera names)"]
    for index, names in table.items():
        lines.append(f"  shard {index}/{count}: {len(names)} camera(s): {', '.join(names) or '-'}")
    return "\n".join(lines)
