"""What this machine gives this process: its RAM and swap, and the cores it may keep busy, each as the
process's cgroup (a container's or a cluster job's limits) caps the machine's figure; and whether an error
is its memory running out. Stdlib only: every script reads its cores at start (``agents.startup``), before
torch is imported."""

from __future__ import annotations

import contextlib
import math
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterable, MutableMapping
from pathlib import Path, PurePosixPath
from typing import TypeVar

_Limit = TypeVar("_Limit", int, float)

MEMINFO = Path("/proc/meminfo")  # the machine's swap
STATM = Path("/proc/self/statm")  # this process's mapped size, in pages first
PROC_CGROUP = Path("/proc/self/cgroup")  # this process's cgroup in each hierarchy
MOUNTINFO = Path("/proc/self/mountinfo")  # where each cgroup tree is mounted, and which cgroup it shows there


def memory_bytes() -> int | None:
    """The RAM plus swap in bytes that this process may take (more than a run may take, never less): the
    machine's, as its cgroup caps them (``memory_figures``), and no more than its address-space limit leaves
    (``address_space``); None where the system cannot say."""
    figures, space = memory_figures(), address_space()
    return tightest((figures[1] if figures else None, space[1] if space else None))


def address_space() -> tuple[int, int] | None:
    """This process's address-space limit (``ulimit -v``; a cluster's ``h_vmem``) and the bytes it leaves,
    the limit less what the process maps now; None where there is none or the system cannot say. The
    memory checks read RAM and swap alone, and a run under such a limit passed them, then failed to
    allocate its rollout buffer: a traceback, after its run folder was made."""
    try:
        import resource  # not on Windows

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit == resource.RLIM_INFINITY:
            return None
        mapped = int(STATM.read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (ImportError, OSError, ValueError, IndexError):  # no such limit, or no /proc to read the mapped
        return None
    return limit, max(0, limit - mapped)


def memory_figures() -> tuple[int, int] | None:
    """This machine's RAM plus swap in bytes, and that as this process's cgroup (a container's or a cluster
    job's memory limit) caps them: the machine's figures alone overstated what a capped run may take, and
    the out-of-memory killer ended it with no message. A cgroup limit that cannot be read (no /proc, a
    garbled file) leaves the machine's figure, never less; None where the system cannot say."""
    host = host_memory()
    if host is None:
        return None
    ram, swap = host
    try:
        ram_cap, swap_cap, both_cap = cgroup_limits()
    except (OSError, ValueError):  # not Linux, or a file that cannot be read as a limit
        return ram + swap, ram + swap
    return ram + swap, at_most(at_most(ram, ram_cap) + at_most(swap, swap_cap), both_cap)


def at_most(value: int, cap: int | None) -> int:
    """``value``, capped by ``cap`` where there is one."""
    return value if cap is None else min(value, cap)


def host_memory() -> tuple[int, int] | None:
    """This machine's RAM and swap in bytes (swap 0 where it cannot say); None where it cannot say its RAM."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows), or no such name
        return None
    if ram <= 0:
        return None
    swap = 0
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("SwapTotal:"):
                swap = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):  # not Linux
        pass
    return ram, swap


def cgroup_limits() -> tuple[int | None, int | None, int | None]:
    """The memory limits this process's cgroup sets, in bytes: on RAM, on swap, on both together (None:
    none). cgroup v1's memory controller where /proc/self/cgroup names one (a hybrid host mounts a v2 tree
    too, without that controller; v1 caps RAM and RAM plus swap), else v2's (RAM, and swap apart)."""
    found = cgroup("memory")
    if found is None:
        return None, None, None
    version, folders = found
    if version == 1:
        folders = charged(folders)
        return (tightest_limit(folders, "memory.limit_in_bytes"), None,
                tightest_limit(folders, "memory.memsw.limit_in_bytes"))
    return tightest_limit(folders, "memory.max"), tightest_limit(folders, "memory.swap.max"), None


def affinity_cores() -> int:
    """The cores this process's CPU affinity allows; the machine's where the system has no affinity."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cap_thread_pools(environ: MutableMapping[str, str]) -> None:
    """Sets ``OMP_NUM_THREADS`` (unless set) to the usable cores where a cgroup CPU quota leaves fewer than
    the affinity allows: torch's pool (OpenMP's) starts a thread per core of the affinity, which a quota
    does not narrow, and 16 threads sharing 2 cores' time wait out most of each period throttled. Called
    before torch is imported, which reads it once; worker processes inherit it. An empty (or blank) one
    (``export OMP_NUM_THREADS=$UNSET``) sets nothing, and is dropped: libgomp printed "Invalid value for
    environment variable OMP_NUM_THREADS" at every start."""
    if not environ.get("OMP_NUM_THREADS", "x").strip():
        del environ["OMP_NUM_THREADS"]
    cores = usable_cores()
    if "OMP_NUM_THREADS" not in environ and cores < affinity_cores():
        environ["OMP_NUM_THREADS"] = str(cores)


# macOS's cap on a process's open files (OPEN_MAX), where its hard limit reads unlimited and the system
# refuses a soft limit above that cap.
_MACOS_OPEN_MAX = 10240


def lift_open_files_limit() -> None:
    """Raise this process's soft limit of open files to its hard limit. Each vector-env worker holds about
    three of the parent's files: Linux's usual soft limit of 1,024 stopped a run of about 330 workers (macOS'
    256, about 80) in multiprocessing's "Too many open files" traceback, where the hard limit allowed more.
    Where the system refuses the raise, the limit stays as it was; worker processes inherit it."""
    try:
        import resource  # not on Windows, which has no such limit
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft in (hard, resource.RLIM_INFINITY):
        return
    for target in (hard, _MACOS_OPEN_MAX):
        if target != resource.RLIM_INFINITY and target <= soft:
            continue
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return
        except (ValueError, OSError):  # above what the system allows (macOS' cap): try the next
            continue


def choose_numba_cache(sources: Iterable[Path]) -> None:
    """Sets ``NUMBA_CACHE_DIR`` (unless set) to a folder of this user's in the temporary one where Numba has
    nowhere else to cache the games' jitted cores (``cache=True``): neither ``__pycache__`` beside their
    sources (in ``sources``, their folders) nor the user's cache (``$XDG_CACHE_HOME/numba``, else
    ``~/.cache/numba``) writable, as a read-only install and an unusable ``$HOME`` leave them on a
    cluster. Every import of a game failed there in Numba's "no locator available" traceback. Called before
    numba is imported, which reads it once; worker processes inherit it."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    # Numba's on Linux (elsewhere another folder: at worst the temporary one is chosen where it would do)
    user_cache = Path(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))) / "numba"
    if all(_writable_folder(folder / "__pycache__") for folder in sources) or _writable_folder(user_cache):
        return
    uid = os.getuid() if hasattr(os, "getuid") else None  # Windows: its temporary folder is the user's own
    folder = Path(tempfile.gettempdir()) / f"depthfirst-numba-{uid if uid is not None else 'cache'}"
    try:
        # There already: a folder, else a file or a dangling link (another user's), refused just below.
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        found = folder.lstat()
        # Numba unpickles what it finds there: a folder another user made (or may write in) could hand this
        # process code to run. Then a fresh one of its own, compiled anew each run.
        others = uid is not None and (found.st_uid != uid or found.st_mode & 0o022)  # Windows: no owners
        if others or not stat.S_ISDIR(found.st_mode):
            folder = Path(tempfile.mkdtemp(prefix="depthfirst-numba-"))
    except OSError:  # no writable temporary folder either: Numba's own error says it
        return
    os.environ["NUMBA_CACHE_DIR"] = str(folder)


def _writable_folder(folder: Path) -> bool:
    """Whether ``folder`` can be made and written in, tried as Numba tries a cache folder."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def usable_cores() -> int:
    """The cores this process may keep busy: those its CPU affinity allows (a Slurm job's, ``taskset``'s,
    ``docker --cpuset-cpus``), as its cgroup's CPU quota (``docker --cpus``, a Kubernetes limit) caps them,
    rounded up. ``os.cpu_count()`` counts the machine's: a 4-core job on a 128-core node started 32 emulator
    workers. A quota that cannot be read leaves the affinity's count."""
    cores = affinity_cores()
    try:
        quota = cgroup_cpu_quota()
    except (OSError, ValueError):  # not Linux, or a file that cannot be read as a quota
        return cores
    return cores if quota is None else max(1, min(cores, math.ceil(quota)))


def cgroup_cpu_quota() -> float | None:
    """The cores' worth of CPU time this process's cgroup, or one above it, allows (None: no quota):
    cgroup v1's cpu controller where /proc/self/cgroup names one, else v2's ``cpu.max``."""
    found = cgroup("cpu")
    if found is None:
        return None
    version, folders = found
    return tightest(map(_v1_quota if version == 1 else _v2_quota, folders))


def _v1_quota(folder: Path) -> float | None:
    """A v1 cgroup's quota in cores (``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``; -1: none)."""
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except FileNotFoundError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _v2_quota(folder: Path) -> float | None:
    """A v2 cgroup's quota in cores (``cpu.max``: "QUOTA PERIOD" in microseconds; "max PERIOD": none)."""
    try:
        quota, period = (folder / "cpu.max").read_text().split()
    except FileNotFoundError:
        return None
    return None if quota == "max" else int(quota) / int(period)


def cgroup(controller: str) -> tuple[int, list[Path]] | None:
    """The cgroup version (1 or 2) that holds ``controller`` for this process, and the folders of its
    cgroup and of those above it (``cgroup_folders``): v1's where /proc/self/cgroup names the controller
    (a hybrid host mounts a v2 tree too, without it), else v2's; None where neither is named."""
    lines = [line.split(":", 2) for line in PROC_CGROUP.read_text().splitlines()]
    for _, controllers, path in lines:
        if controller in controllers.split(","):
            return 1, cgroup_folders(path, "cgroup", controller)
    for hierarchy, _, path in lines:
        if hierarchy == "0":
            return 2, cgroup_folders(path, "cgroup2", controller)
    return None


def cgroup_folders(path: str, fs_type: str, controller: str) -> list[Path]:
    """The folders of the cgroup at ``path`` (as /proc/self/cgroup names it) and of those above it, up to
    the mount of its tree (v1's ``controller``: ``cgroup``; v2: ``cgroup2``) that /proc/self/mountinfo
    names: a parent's limit caps its children. The path is taken relative to the cgroup that mount shows
    (a container's own without a cgroup namespace: /docker/ID shown at /sys/fs/cgroup/memory): joined to
    the mount point whole it read another cgroup's limit where that path was there too (Docker in
    Docker), less than this process may take. No folder where no mount shows this cgroup or one above it."""
    for line in MOUNTINFO.read_text().splitlines():
        fields, _, fs = line.partition(" - ")
        fields, fs = fields.split(), fs.split()
        if len(fs) < 3 or fs[0] != fs_type or (fs_type == "cgroup" and controller not in fs[2].split(",")):
            continue
        root, mount = (re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), f) for f in fields[3:5])
        try:
            inside = PurePosixPath(path).relative_to(root)
        except ValueError:  # this mount shows another cgroup
            continue
        folder = Path(mount).joinpath(*inside.parts)
        return [folder, *list(folder.parents)[:len(inside.parts)]]
    return []


def charged(folders: list[Path]) -> list[Path]:
    """``folders`` (a cgroup's, then its parents') up to the first parent that counts not its children's
    memory: a v1 cgroup whose ``memory.use_hierarchy`` reads 0 (older kernels' default), whose limit, and
    its parents', then caps this process not at all."""
    for k, folder in enumerate(folders[1:], 1):
        try:
            if (folder / "memory.use_hierarchy").read_text().strip() == "0":
                return folders[:k]
        except FileNotFoundError:  # v2, or a folder not there: every parent counts its children
            pass
    return folders


def tightest_limit(folders: list[Path], name: str) -> int | None:
    """The tightest limit that file ``name`` sets in ``folders``; None: no limit (a folder not there sets
    none)."""
    return tightest(limit_in(folder / name) for folder in folders)


def tightest(limits: Iterable[_Limit | None]) -> _Limit | None:
    """The smallest of ``limits`` that are set (None: no limit); None where none is."""
    return min((limit for limit in limits if limit is not None), default=None)


def limit_in(file: Path) -> int | None:
    """The bytes a cgroup limit file holds; None for no limit: v2's ``max``, or no such file (v2's root
    cgroup has none; v1's "no limit" is a number near 2**63, more than the machine has, so min() drops it)."""
    try:
        text = file.read_text().strip()
    except FileNotFoundError:
        return None
    return None if text == "max" else int(text)


# torch's CPU allocator refuses with a plain RuntimeError, told apart only by its message (c10's
# DefaultCPUAllocator). Its wording is the build's: posix_memalign's (Linux, macOS), then Windows', Android's
# and mimalloc's.
_TORCH_CPU_ALLOC_FAILED = ("DefaultCPUAllocator: can't allocate memory",
                           "DefaultCPUAllocator: not enough memory")
# The size each allocator names: torch's CPU one in bytes ("you tried to allocate 512000000 bytes"), its CUDA
# one ("Tried to allocate 2.00 GiB") and NumPy ("Unable to allocate 3.00 GiB for an array", "909. TiB") in
# units.
_ASKED = re.compile(r"to allocate (?:(\d+) bytes|(\d+(?:\.\d*)?) ([KMGTPE]i?B)\b)", re.IGNORECASE)


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocation the machine refused: NumPy's ``MemoryError``, torch's CPU
    allocator's refusal (RAM and swap, or ``ulimit -v``, spent), or torch's ``OutOfMemoryError`` (a
    RuntimeError) on a CUDA device. Never imports torch: where it is not loaded, no error is torch's."""
    return isinstance(error, MemoryError) or cpu_alloc_failed(error) or gpu_alloc_failed(error)


def gpu_alloc_failed(error: BaseException) -> bool:
    """Whether ``error`` is torch's ``OutOfMemoryError``, a CUDA device's memory spent."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(error, torch.cuda.OutOfMemoryError)


def cpu_alloc_failed(error: BaseException) -> bool:
    """Whether ``error`` is torch's CPU allocator refusing memory (a RuntimeError of its own wording)."""
    return isinstance(error, RuntimeError) and any(words in str(error) for words in _TORCH_CPU_ALLOC_FAILED)


def memory_refused(error: BaseException) -> str:
    """Which memory ``error`` (``out_of_memory``) found spent, with the size refused where its message names
    it, for a one-line error: "the GPU's memory (2.00 GiB more refused)"."""
    place = "the GPU's memory" if gpu_alloc_failed(error) else "this machine's memory"
    size = refused_size(error)
    return f"{place} ({size} more refused)" if size else place


def refused_size(error: BaseException) -> str | None:
    """The size of the allocation ``error`` (``out_of_memory``) refused, as a person reads it ("488 MiB",
    "2.00 GiB"); None where the message names none. torch's messages run to several lines (CUDA's to a
    paragraph of allocator statistics): a one-line error quotes this instead."""
    found = _ASKED.search(str(error))
    if found is None:
        return None
    if found[1] is None:
        return f"{found[2].rstrip('.')} {found[3]}"
    # Counted up from bytes: under a ulimit -v the allocation refused may be a small one ("0 MiB" from MiB).
    size, units = float(found[1]), ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    while size >= 1024 and len(units) > 1:
        size /= 1024
        units.pop(0)
    return f"{size:,.0f} {units[0]}" if units[0] in ("bytes", "KiB", "MiB") else f"{size:,.2f} {units[0]}"
