"""agents/machine.py: the RAM, swap and cores this machine gives the process, as its cgroup caps them."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, path_method_fails

GiB = 2**30
RAM, SWAP = 4 * GiB, 2 * GiB  # the fake host's


def fake_cgroup(monkeypatch, tmp_path, proc: str, files: dict[str, str], shown: str = "/") -> int | None:
    """memory_bytes on a host of 4 GiB of RAM and 2 GiB of swap, whose /proc/self/cgroup reads ``proc`` and
    whose /sys/fs/cgroup holds ``files`` (path: text): v2 mounted there, v1's memory controller at memory/
    and its cpu controller at cpu/, each showing the cgroup ``shown`` (a container's own without a cgroup
    namespace)."""
    from agents import machine

    monkeypatch.setattr(os, "sysconf", {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": RAM // 4096}.__getitem__)
    (tmp_path / "meminfo").write_text(f"MemTotal: {RAM // 1024} kB\nSwapTotal: {SWAP // 1024} kB\n")
    (tmp_path / "cgroup").write_text(proc)
    fs = str(tmp_path / "fs").replace(" ", "\\040")  # as mountinfo escapes a space
    (tmp_path / "mountinfo").write_text(f"30 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
                                        f"31 30 0:26 {shown} {fs} rw - cgroup2 cgroup2 rw\n"
                                        f"35 30 0:32 {shown} {fs}/memory rw - cgroup cgroup rw,memory\n"
                                        f"36 30 0:33 {shown} {fs}/cpu rw - cgroup cgroup rw,cpu,cpuacct\n")
    for name, text in files.items():
        (tmp_path / "fs" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "fs" / name).write_text(text)
    monkeypatch.setattr(machine, "MEMINFO", tmp_path / "meminfo")
    monkeypatch.setattr(machine, "PROC_CGROUP", tmp_path / "cgroup")
    monkeypatch.setattr(machine, "MOUNTINFO", tmp_path / "mountinfo")
    return machine.memory_bytes()


V1_UNLIMITED = str(2**63 - 4096)  # what v1 reads where no limit is set


@pytest.mark.parametrize("proc, files, expected", [
    ("0::/job\n", {"job/memory.max": str(GiB)}, GiB + SWAP),  # v2: RAM capped, swap not
    ("0::/job\n", {"job/memory.max": "max"}, RAM + SWAP),
    ("0::/a/b\n", {"a/memory.max": str(GiB), "a/b/memory.max": str(3 * GiB)}, GiB + SWAP),  # the parent's
    ("0::/job\n", {"job/memory.max": str(GiB), "job/memory.swap.max": "0"}, GiB),  # v2 caps swap apart
    ("0::/job\n", {"job/memory.max": str(8 * GiB), "job/memory.swap.max": str(GiB)}, RAM + GiB),
    # v2 writes "max" where it sets none, the swap's by default: read as no limit, not as a garbled file
    # that left the host's figure, the parent's 1 GiB lost
    ("0::/a/job\n", {"a/memory.max": str(GiB), "a/job/memory.max": "max", "a/job/memory.swap.max": "max"},
     GiB + SWAP),
    ("0::/\n", {"memory.max": str(GiB)}, GiB + SWAP),  # a cgroup namespace: the mount root is its own
    ("0::/not/here\n", {"memory.max": str(GiB)}, GiB + SWAP),  # a path missing under the mount: its root
    ("0::/not/here\n", {}, RAM + SWAP),  # ... which sets none
    ("4:memory:/job\n0::/\n", {"memory/job/memory.limit_in_bytes": str(GiB)}, GiB + SWAP),  # v1 (hybrid)
    ("4:memory:/job\n0::/\n", {"memory/job/memory.limit_in_bytes": V1_UNLIMITED}, RAM + SWAP),
    ("4:memory:/job\n", {"memory/job/memory.limit_in_bytes": str(GiB),  # v1 caps RAM and swap together
                          "memory/job/memory.memsw.limit_in_bytes": str(GiB + GiB // 2)}, GiB + GiB // 2),
    ("4:memory:/job\n", {"memory/job/memory.limit_in_bytes": V1_UNLIMITED,
                          "memory/job/memory.memsw.limit_in_bytes": V1_UNLIMITED}, RAM + SWAP),
    ("4:memory:/a/job\n", {"memory/a/memory.limit_in_bytes": str(GiB),  # v1's parent a counts not its
                            "memory/a/memory.use_hierarchy": "0"}, RAM + SWAP),  # children's memory: no cap
    ("4:memory:/a/b/job\n", {"memory/a/memory.limit_in_bytes": str(GiB), "memory/a/memory.use_hierarchy": "1",
                              "memory/a/b/memory.use_hierarchy": "0"}, RAM + SWAP),  # nor above such a one
    ("4:memory:/a/job\n", {"memory/a/memory.limit_in_bytes": str(GiB), "memory/a/memory.use_hierarchy": "1"},
     GiB + SWAP),
    ("4:memory:/a/job\n", {"memory/a/memory.limit_in_bytes": str(GiB),  # as the kernel writes it
                            "memory/a/memory.use_hierarchy": "0\n"}, RAM + SWAP),
    ("4:memory:/job\n", {"memory/job/memory.limit_in_bytes": str(GiB),  # its own limit caps its own memory,
                          "memory/job/memory.use_hierarchy": "0"}, GiB + SWAP),  # hierarchy or not
    ("4:memory:/a/b/job\n", {"memory/a/b/memory.limit_in_bytes": str(GiB),  # b counts its children, below
                              "memory/a/b/memory.use_hierarchy": "1",  # an a that does not
                              "memory/a/memory.use_hierarchy": "0"}, GiB + SWAP),
    ("4:memory:/not/here\n", {"memory/memory.limit_in_bytes": str(GiB)}, GiB + SWAP),  # v1's root, as v2's
])
def test_the_memory_figure_is_capped_by_the_process_cgroup(monkeypatch, tmp_path, proc, files, expected):
    # In a container or a cluster job the host's RAM and swap overstated what a run may take: the memory
    # checks never fired, and the out-of-memory killer ended the run with no message.
    assert fake_cgroup(monkeypatch, tmp_path, proc, files) == expected


@pytest.mark.parametrize("proc, shown, files, expected", [
    ("4:memory:/docker/abc\n", "/docker/abc", {"memory/memory.limit_in_bytes": str(3 * GiB)},
     3 * GiB + SWAP),  # a v1 container without a cgroup namespace: its mount shows its own cgroup
    ("4:memory:/docker/abc\n", "/docker/abc", {"memory/memory.limit_in_bytes": str(3 * GiB),  # Docker in
                                                "memory/docker/memory.limit_in_bytes": str(GiB)},  # Docker:
     3 * GiB + SWAP),  # its inner daemon's cgroup docker/ is a child's, whose limit caps not this process
    ("0::/job/a\n", "/job", {"memory.max": str(3 * GiB), "job/memory.max": str(GiB)}, 3 * GiB + SWAP),
    ("0::/job\n", "/other", {"memory.max": str(GiB)}, RAM + SWAP),  # the mount shows another cgroup
])
def test_the_cgroup_path_is_read_under_the_cgroup_its_mount_shows(monkeypatch, tmp_path, proc, shown, files,
                                                                   expected):
    # /proc/self/cgroup's path joined to the mount point whole read another cgroup's limit where that path
    # was there too, less than the process may take: runs that fit were refused.
    assert fake_cgroup(monkeypatch, tmp_path, proc, files, shown) == expected


def test_no_limit_is_read_above_the_mount_of_the_cgroup_tree(monkeypatch, tmp_path):
    # The folder holding the mount point is no cgroup of this tree (here: a cgroup2 tree mounted inside
    # another's folder), so a memory.max there caps nothing.
    (tmp_path / "memory.max").write_text(str(GiB))
    assert fake_cgroup(monkeypatch, tmp_path, "0::/job\n", {"job/memory.max": "max"}) == RAM + SWAP


def test_a_cgroup_mount_point_with_a_space_is_read_as_mountinfo_escapes_it(monkeypatch, tmp_path):
    spaced = tmp_path / "a b"  # mountinfo writes it a\040b
    spaced.mkdir()
    assert fake_cgroup(monkeypatch, spaced, "0::/job\n", {"job/memory.max": str(GiB)}) == GiB + SWAP


def test_a_v1_memory_limit_is_read_under_the_memory_controllers_mount_not_anothers(monkeypatch, tmp_path):
    # cgroup v1 mounts each controller apart: the job's folder under the first v1 mount (cpu's, here) holds
    # no memory limit, and a job capped at 1 GiB would be taken for the whole host.
    from agents import machine

    fake_cgroup(monkeypatch, tmp_path, "4:memory:/job\n", {"memory/job/memory.limit_in_bytes": str(GiB)})
    lines = (tmp_path / "mountinfo").read_text().splitlines(keepends=True)
    lines.insert(1, f"33 30 0:30 / {tmp_path / 'fs' / 'cpu'} rw - cgroup cgroup rw,cpu,cpuacct\n")
    (tmp_path / "mountinfo").write_text("".join(lines))
    assert machine.memory_bytes() == GiB + SWAP


@pytest.mark.parametrize("proc, files", [
    ("0::/job\n", {"job/memory.max": "lots"}),  # garbled: the host's figure, never less than it may take
    ("0::/job\n", {"job/memory.max": str(GiB), "memory.max": "1.5G"}),
    ("4:memory:/job\n", {"memory/job/memory.limit_in_bytes": ""}),
    ("no colons here\n", {"memory.max": str(GiB)}),
])
def test_a_cgroup_that_cannot_be_read_leaves_the_host_figure(monkeypatch, tmp_path, proc, files):
    assert fake_cgroup(monkeypatch, tmp_path, proc, files) == RAM + SWAP


def test_an_unreadable_cgroup_file_or_none_at_all_leaves_the_host_figure(monkeypatch, tmp_path):
    from agents import machine

    denied = PermissionError(errno.EACCES, "Permission denied")
    path_method_fails(monkeypatch, "read_text", lambda p: p.name == "memory.max", denied)
    assert fake_cgroup(monkeypatch, tmp_path, "0::/job\n", {"job/memory.max": str(GiB)}) == RAM + SWAP
    monkeypatch.setattr(machine, "PROC_CGROUP", tmp_path / "no such file")  # not Linux
    assert machine.memory_bytes() == RAM + SWAP


def v1_quota(quota: str, period: str = "100000", job: str = "job") -> dict[str, str]:
    """A v1 cgroup /``job``'s CPU quota files: ``quota`` microseconds per ``period``."""
    return {f"cpu/{job}/cpu.cfs_quota_us": quota, f"cpu/{job}/cpu.cfs_period_us": period}


@pytest.mark.parametrize("proc, files, expected", [
    ("0::/job\n", {}, 8),  # no cgroup limit: the cores the affinity allows
    ("0::/job\n", {"job/cpu.max": "max 100000"}, 8),
    ("0::/job\n", {"job/cpu.max": "200000 100000"}, 2),  # docker --cpus 2
    ("0::/job\n", {"job/cpu.max": "150000 100000"}, 2),  # 1.5 cores' time: two kept partly busy
    ("0::/job\n", {"job/cpu.max": "10000 100000"}, 1),  # a tenth of a core: still one
    ("0::/job\n", {"job/cpu.max": "3200000 100000"}, 8),  # a quota above the affinity's cores
    ("0::/a/job\n", {"a/cpu.max": "300000 100000", "a/job/cpu.max": "max 100000"}, 3),  # the parent's
    ("0::/a/job\n", {"a/cpu.max": "300000 100000", "a/job/cpu.max": "500000 100000"}, 3),  # the tighter
    ("0::/job\n", {"job/cpu.max": "100000 50000"}, 2),  # a period other than 100 ms (docker --cpu-period)
    ("3:cpu,cpuacct:/job\n0::/\n", v1_quota("400000"), 4),  # v1
    ("3:cpu,cpuacct:/job\n0::/\n", v1_quota("-1"), 8),  # v1's "none"
    ("3:cpu,cpuacct:/job\n0::/\n", v1_quota("150000"), 2),  # v1's 1.5 cores: two kept partly busy
    ("3:cpu,cpuacct:/job\n0::/\n", v1_quota("100000", period="50000"), 2),
    ("3:cpu,cpuacct:/a/job\n0::/\n", {**v1_quota("300000", job="a"), **v1_quota("500000", job="a/job")},
     3),  # v1's parent's quota, the tighter, caps its children too
    ("2:cpuacct:/job\n0::/job\n", {"job/cpu.max": "200000 100000"}, 2),  # cpuacct is not v1's cpu controller
    ("0::/job\n", {"job/cpu.max": "lots"}, 8),  # garbled: the affinity's count
])
def test_the_usable_cores_are_the_affinitys_as_the_cgroup_quota_caps_them(monkeypatch, tmp_path, proc, files,
                                                                           expected):
    # os.cpu_count() counts the machine's cores: a Game Boy run in a 4-core Slurm job on a 128-core node, or
    # in a container given 2 CPUs' time, started a worker per machine core (32 emulators' processes).
    from agents import machine

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    fake_cgroup(monkeypatch, tmp_path, proc, files)
    assert machine.usable_cores() == expected


def test_a_v1_cpu_quota_is_read_under_the_cpu_controllers_mount_not_cpusets(monkeypatch, tmp_path):
    # "cpu" is a part of "cpuset" and "cpuacct", v1 controllers mounted apart (cpuacct alone on older
    # systems): the job's folder under their mounts holds no quota, and a job of 2 cores' time on 8 would
    # start 8 workers.
    from agents import machine

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    fake_cgroup(monkeypatch, tmp_path, "3:cpu,cpuacct:/job\n0::/\n", v1_quota("200000"))
    lines = (tmp_path / "mountinfo").read_text().splitlines(keepends=True)
    lines[1:1] = [f"33 30 0:30 / {tmp_path / 'fs' / 'cpuset'} rw - cgroup cgroup rw,cpuset\n",
                  f"34 30 0:31 / {tmp_path / 'fs' / 'cpuacct'} rw - cgroup cgroup rw,cpuacct\n"]
    (tmp_path / "mountinfo").write_text("".join(lines))
    assert machine.usable_cores() == 2


def test_without_affinity_or_cgroup_the_usable_cores_are_the_machines(monkeypatch, tmp_path):
    from agents import machine

    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # as on macOS and Windows
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    monkeypatch.setattr(machine, "PROC_CGROUP", tmp_path / "no such file")
    assert machine.usable_cores() == 6


def test_the_default_workers_follow_the_cores_this_process_may_use():
    # A real affinity, set in a child process: one core of this machine's.
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "from envs.vector import default_workers; import scripts.benchmark as b; "
            "print(default_workers('pokemon_red', 32), default_workers('snake', 32), "
            "b.parser().parse_args([]).workers)")
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this system")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "0", "1"]


def test_memory_is_unknown_without_sysconf_and_ram_alone_without_meminfo(monkeypatch):
    from agents import machine

    def no_such_name(name):
        raise ValueError(f"unrecognized configuration name {name!r}")

    monkeypatch.setattr(os, "sysconf", no_such_name)
    assert machine.memory_bytes() is None  # so check_memory checks nothing
    monkeypatch.setattr(os, "sysconf", {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 1000}.__getitem__)
    not_linux = FileNotFoundError(errno.ENOENT, "No such file or directory", "/proc/meminfo")
    path_method_fails(monkeypatch, "read_text", lambda p: str(p) == "/proc/meminfo", not_linux)
    assert machine.memory_bytes() == 4096 * 1000  # no swap figure: RAM alone


@pytest.mark.parametrize("affinity, quota, environ, expected", [
    (16, "200000 100000", {}, "2"),  # docker --cpus 2 on a 16-core machine: torch would start 16 threads
    (16, "max 100000", {}, None),  # no quota: torch's own count, the affinity's, is right
    (2, "200000 100000", {}, None),  # a quota the affinity already meets
    (16, "200000 100000", {"OMP_NUM_THREADS": "8"}, "8"),  # the user's own setting stays
    # An empty one (export OMP_NUM_THREADS=$UNSET_VAR) sets nothing: libgomp warned of it on every run.
    (16, "200000 100000", {"OMP_NUM_THREADS": ""}, "2"),
    (16, "max 100000", {"OMP_NUM_THREADS": " "}, None),
])
def test_thread_pools_fit_a_cgroup_cpu_quota(monkeypatch, tmp_path, affinity, quota, environ, expected):
    from agents import machine

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(affinity)), raising=False)
    fake_cgroup(monkeypatch, tmp_path, "0::/job\n", {"job/cpu.max": quota})
    machine.cap_thread_pools(environ)
    assert environ.get("OMP_NUM_THREADS") == expected


def test_every_script_fits_its_thread_pools_before_it_imports_torch():
    # The script run as the program (runpy puts it in __main__, as python scripts/x.py does), in a process
    # whose quota leaves 1 of 4 cores: startup, imported first, sets OMP_NUM_THREADS, which torch then reads.
    code = ("import os, runpy, sys\n"
            "import agents.machine as m\n"
            "m.usable_cores, m.affinity_cores = (lambda: 1), (lambda: 4)\n"
            "sys.argv = ['scripts/evaluate.py', '--help']\n"
            "try:\n"
            "    runpy.run_path('scripts/evaluate.py', run_name='__main__')\n"
            "except SystemExit:\n"
            "    pass\n"
            "import torch\n"
            "print(os.environ.get('OMP_NUM_THREADS'), torch.get_num_threads())\n")
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ["1", "1"]


def test_an_empty_omp_num_threads_draws_no_libgomp_warning(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": ""}
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate.py"), str(tmp_path / "no-run")],
                         env=env, capture_output=True, text=True, timeout=300)
    # It was "\nlibgomp: Invalid value for environment variable OMP_NUM_THREADS" first.
    assert (out.returncode, out.stderr) == (2, f"error: {tmp_path / 'no-run'}: no such run folder\n")


@pytest.mark.parametrize("soft, hard, refused, expected", [
    (1024, 524288, (), 524288),  # Linux's usual pair: lifted to the hard limit
    (256, "inf", ("inf",), 10240),  # macOS: an unlimited hard limit it refuses as a soft one, OPEN_MAX taken
    (256, 512, (512, 10240), 256),  # refused every raise: left as it was
    (4096, 4096, (), 4096),  # already at the hard limit
])
def test_the_open_files_limit_is_lifted_to_the_hard_one(monkeypatch, soft, hard, refused, expected):
    import resource

    from agents import machine

    inf = resource.RLIM_INFINITY
    hard, refused = (inf if hard == "inf" else hard), {inf if r == "inf" else r for r in refused}
    limits = {resource.RLIMIT_NOFILE: (soft, hard)}

    def setrlimit(which, pair):
        if pair[0] in refused:
            raise ValueError("not allowed to raise maximum limit")
        limits[which] = pair

    monkeypatch.setattr(resource, "getrlimit", lambda which: limits[which])
    monkeypatch.setattr(resource, "setrlimit", setrlimit)
    machine.lift_open_files_limit()
    assert limits[resource.RLIMIT_NOFILE] == (expected, hard)


def test_workers_start_under_a_low_soft_limit_of_open_files(tmp_path):
    # ulimit -n 24 (a hard limit of 4,096): 4 workers, about 3 of the parent's files each, failed to start
    # in multiprocessing's "Too many open files" traceback; every script lifts the soft limit first.
    import resource

    def low_soft_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (24, 4096))

    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_ppo.py"), "--env", "snake",
                          "--num-workers", "4", "--num-envs", "8", "--total-timesteps", "256",
                          "--no-progress", "--policy", "tiny", "--set", "ppo.n_steps=32", "--set",
                          "ppo.batch_size=128", "--run-dir", "run"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, preexec_fn=low_soft_limit)
    assert out.returncode == 0, out.stderr
    assert "done: 256 steps" in out.stdout


def test_the_memory_figure_is_capped_by_the_address_space_left_under_ulimit_v(monkeypatch, tmp_path):
    # A cluster's h_vmem (ulimit -v) caps what a process maps, torch's own libraries included: the checks
    # read RAM and swap alone, passed a run whose buffers could never be mapped, and it failed in a traceback.
    import resource

    from agents import machine

    statm = tmp_path / "statm"
    statm.write_text(f"{GiB // 4096} 1000 0 0 0 0 0\n")  # 1 GiB mapped now
    monkeypatch.setattr(machine, "STATM", statm)
    limits = {"as": (3 * GiB, resource.RLIM_INFINITY)}
    monkeypatch.setattr(resource, "getrlimit", lambda which: limits["as"])
    assert fake_cgroup(monkeypatch, tmp_path, "0::/job\n", {}) == 2 * GiB  # the limit less what is mapped
    assert machine.address_space() == (3 * GiB, 2 * GiB)
    limits["as"] = (16 * GiB, 16 * GiB)
    assert machine.memory_bytes() == RAM + SWAP  # RAM and swap are the tighter
    limits["as"] = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    assert machine.address_space() is None and machine.memory_bytes() == RAM + SWAP
    statm.unlink()  # no /proc to say what is mapped: no figure from the limit
    limits["as"] = (3 * GiB, 3 * GiB)
    assert machine.address_space() is None


def train_in_address_space(cwd: Path, limit: str, *args: str) -> subprocess.CompletedProcess:
    """``scripts/train_ppo.py args`` in a child process in ``cwd`` under a real RLIMIT_AS of ``limit``, a
    Python expression read once torch and SB3 are mapped (``agents.train`` imported), which may use
    ``mapped``, the bytes the process maps then."""
    code = ("import resource, runpy, sys\n"
            "import agents.train\n"
            "from agents.machine import STATM\n"
            "mapped = int(STATM.read_text().split()[0]) * resource.getpagesize()\n"
            f"limit = {limit}\n"
            "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
            f"sys.argv = {[str(ROOT / 'scripts' / 'train_ppo.py'), *args]!r}\n"
            "runpy.run_path(sys.argv[0], run_name='__main__')\n")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_a_run_that_outgrows_its_ulimit_v_is_refused_in_one_line_before_its_folder(tmp_path):
    # A real RLIMIT_AS of 6 GB on the training process; --num-envs 200,000 needs 9.9 GiB of buffers.
    out = train_in_address_space(tmp_path, "6 * 10**9", "--env", "snake", "--num-envs", "200000",
                                 "--total-timesteps", "1000", "--no-progress", "--run-dir", "run")
    assert out.returncode == 2, out.stderr
    assert "GiB of address space left under its limit of 5.6 GiB: ulimit -v)" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "run").exists()


def test_the_size_an_allocator_refused_is_read_from_each_ones_wording():
    import numpy as np
    import torch

    from agents.machine import out_of_memory, refused_size

    cpu = RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                       "memory: you tried to allocate 512000000 bytes. Error code 12 (Cannot allocate "
                       "memory)")
    cuda = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total "
                                       "capacity of 79.11 GiB of which 1.06 GiB is free.")
    with pytest.raises(MemoryError) as numpy_error:  # NumPy's own wording: "Unable to allocate 909. TiB ..."
        np.empty(10**15, np.uint8)
    assert [refused_size(e) for e in (cpu, cuda, numpy_error.value)] == ["488 MiB", "2.00 GiB", "909 TiB"]
    assert refused_size(RuntimeError("... you tried to allocate 3221225472 bytes.")) == "3.00 GiB"
    # A whole GiB is named in GiB, not as 1,024 MiB.
    assert refused_size(RuntimeError(f"... you tried to allocate {2**30} bytes.")) == "1.00 GiB"
    assert refused_size(RuntimeError(f"... you tried to allocate {2**62} bytes.")) == "4.00 EiB"
    # Under a ulimit -v the allocation refused may be a small one: it read "0 MiB more refused".
    assert [refused_size(RuntimeError(f"... you tried to allocate {n} bytes.")) for n in (100, 300_000)] == [
        "100 bytes", "293 KiB"]
    assert all(out_of_memory(e) for e in (cpu, cuda, numpy_error.value))
    assert refused_size(MemoryError()) is None and not out_of_memory(RuntimeError("a torch bug"))


def unwritable_caches(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the packages whose __pycache__ folders cannot be made (a file is in the way, as a read-only
    install is to a user who is not root), and an environment whose $HOME is a file (no ~/.cache/numba)
    and whose temporary folder is under ``tmp_path``."""
    import shutil

    copy = tmp_path / "install"
    for package in ("agents", "envs"):
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    for folder in ("envs", "envs/gameboy"):
        (copy / folder / "__pycache__").write_text("")
    (tmp_path / "home").write_text("")
    (tmp_path / "tmp").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path / "tmp"), PYTHONPATH=str(copy))
    return copy, env


def in_unwritable_caches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """``unwritable_caches``'s environment set for this process (no NUMBA_CACHE_DIR, no XDG_CACHE_HOME, the
    temporary folder read again); its copy of the packages."""
    copy, env = unwritable_caches(tmp_path)
    for name in ("HOME", "TMPDIR"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read from $TMPDIR
    return copy


def test_a_game_imports_where_neither_its_pycache_nor_home_takes_numbas_cache(tmp_path):
    # A read-only install and an unusable $HOME (a cluster's): every import of a game failed in Numba's
    # "cannot cache function 'next_u64': no locator available" traceback. The cache goes to a folder of
    # this user's in the temporary one, which a second import (a worker's, the next run's) reuses.
    _, env = unwritable_caches(tmp_path)
    code = "import os, envs.snake; print(os.environ['NUMBA_CACHE_DIR'])"
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == str(tmp_path / "tmp" / f"depthfirst-numba-{os.getuid()}")
    assert (tmp_path / "tmp" / f"depthfirst-numba-{os.getuid()}").stat().st_mode & 0o777 == 0o700


def test_numbas_cache_folder_is_chosen_only_where_it_has_none(monkeypatch, tmp_path):
    from agents import machine

    copy, env = unwritable_caches(tmp_path)
    for name in ("HOME", "TMPDIR"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read from $TMPDIR
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/the/users/own")
    machine.choose_numba_cache([copy / "envs"])
    assert os.environ["NUMBA_CACHE_DIR"] == "/the/users/own"  # the user's own setting stays
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    machine.choose_numba_cache([tmp_path])  # __pycache__ can be made there: Numba's own choice
    assert "NUMBA_CACHE_DIR" not in os.environ
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    machine.choose_numba_cache([copy / "envs"])  # the user's cache folder takes it
    assert "NUMBA_CACHE_DIR" not in os.environ
    monkeypatch.delenv("XDG_CACHE_HOME")
    # Another user's folder of that name (Numba unpickles what it finds there): a fresh one of its own. This
    # process plays that other user (its uid + 1): a chown to another owner needs root, which failed the test.
    mine = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: mine + 1)
    theirs = tmp_path / "tmp" / f"depthfirst-numba-{mine + 1}"
    theirs.mkdir()
    machine.choose_numba_cache([copy / "envs"])
    chosen = Path(os.environ["NUMBA_CACHE_DIR"])
    assert chosen.parent == tmp_path / "tmp" and chosen != theirs and chosen.stat().st_uid == mine


@pytest.mark.parametrize("left", ["file", "dangling link"])
def test_numbas_cache_name_taken_by_no_folder_still_gets_a_folder_of_its_own(monkeypatch, tmp_path, left):
    # A file or a dangling symlink at depthfirst-numba-UID (another user's, or left over) made mkdir's
    # FileExistsError read as "no writable temporary folder": NUMBA_CACHE_DIR stayed unset, and every import
    # of a game failed in Numba's "no locator available" traceback.
    from agents import machine

    copy = in_unwritable_caches(monkeypatch, tmp_path)
    taken = tmp_path / "tmp" / f"depthfirst-numba-{os.getuid()}"
    if left == "file":
        taken.write_text("")
    else:
        taken.symlink_to(tmp_path / "nowhere")
    machine.choose_numba_cache([copy / "envs"])
    chosen = Path(os.environ["NUMBA_CACHE_DIR"])
    assert chosen.parent == tmp_path / "tmp" and chosen != taken and chosen.is_dir()
    assert not (tmp_path / "nowhere").exists()  # nothing made through the link


@pytest.mark.parametrize("planted", ["writable by others", "writable by its group", "a link"])
def test_numbas_cache_folder_is_not_one_others_may_change(monkeypatch, tmp_path, planted):
    # Numba unpickles what it finds there: a folder any user may write in, or a link whoever made it may
    # point elsewhere, could hand this process code to run. A fresh folder of its own is taken instead.
    from agents import machine

    copy = in_unwritable_caches(monkeypatch, tmp_path)
    named = tmp_path / "tmp" / f"depthfirst-numba-{os.getuid()}"
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    if planted == "a link":
        named.symlink_to(mine)  # to a folder of this user's: the link is what may change
    else:
        named.mkdir()
        named.chmod(0o777 if planted == "writable by others" else 0o770)
    machine.choose_numba_cache([copy / "envs"])
    chosen = Path(os.environ["NUMBA_CACHE_DIR"])
    assert chosen.parent == tmp_path / "tmp" and chosen not in (named, mine)
    assert chosen.lstat().st_mode & 0o777 == 0o700 and chosen.is_dir() and not chosen.is_symlink()


def test_numbas_cache_folder_is_chosen_where_one_games_pycache_cannot_take_it(monkeypatch, tmp_path):
    # envs/__pycache__ writable but envs/gameboy/__pycache__ not: the Game Boy cores would have no cache.
    from agents import machine

    copy = in_unwritable_caches(monkeypatch, tmp_path)
    (copy / "envs" / "__pycache__").unlink()
    machine.choose_numba_cache([copy / "envs", copy / "envs" / "gameboy"])
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "tmp" / f"depthfirst-numba-{os.getuid()}")


def test_numbas_cache_folder_is_chosen_where_the_pycache_folders_take_no_file(monkeypatch, tmp_path):
    # The usual read-only install: pip made __pycache__ (its .pyc files), which the user cannot write in.
    import tempfile

    from agents import machine

    copy = in_unwritable_caches(monkeypatch, tmp_path)
    read_only = [copy / folder / "__pycache__" for folder in ("envs", "envs/gameboy")]
    for folder in read_only:
        folder.unlink()
        folder.mkdir(mode=0o555)
    real = tempfile.TemporaryFile

    def refused_there(*args, dir=None, **kwargs):  # root writes in any folder: refused as to a user
        if dir is not None and Path(dir) in read_only:
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", refused_there)
    machine.choose_numba_cache([copy / "envs", copy / "envs" / "gameboy"])
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "tmp" / f"depthfirst-numba-{os.getuid()}")


@pytest.mark.parametrize("phys_pages", [-1, 0])
def test_a_ram_figure_the_system_cannot_say_is_unknown_not_negative(monkeypatch, phys_pages):
    # sysconf's -1 (a name the system knows but cannot answer) made the RAM -4,096 bytes: every run refused
    # as outgrowing a machine of no memory, where an unknown figure checks nothing.
    from agents import machine

    monkeypatch.setattr(os, "sysconf", {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": phys_pages}.__getitem__)
    assert machine.host_memory() is None
    assert machine.memory_figures() is None


def test_a_v1_cpu_period_of_zero_reads_as_no_quota(monkeypatch, tmp_path):
    # A garbled v1 period (0) divided the quota by zero: a ZeroDivisionError out of usable_cores at every
    # script's start, where an unreadable quota leaves the affinity's count.
    from agents import machine

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    fake_cgroup(monkeypatch, tmp_path, "3:cpu,cpuacct:/job\n0::/\n", v1_quota("150000", period="0"))
    assert machine.usable_cores() == 8


def test_a_soft_open_files_limit_above_macos_cap_is_never_lowered_to_it(monkeypatch):
    # macOS with a soft limit already past OPEN_MAX (ulimit -n 20000) and an unlimited hard one it refuses:
    # the fallback to OPEN_MAX (10,240) is a raise only, else it would halve the files this process may open.
    import resource

    from agents import machine

    inf = resource.RLIM_INFINITY
    limits = {resource.RLIMIT_NOFILE: (20000, inf)}

    def setrlimit(which, pair):
        if pair[0] == inf:
            raise ValueError("not allowed to raise maximum limit")
        limits[which] = pair

    monkeypatch.setattr(resource, "getrlimit", lambda which: limits[which])
    monkeypatch.setattr(resource, "setrlimit", setrlimit)
    machine.lift_open_files_limit()
    assert limits[resource.RLIMIT_NOFILE] == (20000, inf)


def test_an_address_space_limit_below_what_is_mapped_leaves_nothing_not_less(monkeypatch, tmp_path):
    # ulimit -v lowered under what the process maps already (setrlimit allows it): none left, not minus 1 GiB,
    # which a refusal would have printed as "-1.0 GiB of address space left".
    import resource

    from agents import machine

    statm = tmp_path / "statm"
    statm.write_text(f"{4 * GiB // 4096} 1000 0 0 0 0 0\n")  # 4 GiB mapped now
    monkeypatch.setattr(machine, "STATM", statm)
    monkeypatch.setattr(os, "sysconf", {"SC_PAGE_SIZE": 4096}.__getitem__)
    monkeypatch.setattr(resource, "getrlimit", lambda which: (3 * GiB, resource.RLIM_INFINITY))
    assert machine.address_space() == (3 * GiB, 0)


def test_without_affinity_or_a_core_count_one_core_is_usable(monkeypatch, tmp_path):
    # os.cpu_count() is None where the system cannot say: the cores counted as None (a TypeError in min()
    # under a cgroup quota, or wherever workers are counted from it), where one core is the safe count.
    from agents import machine

    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    monkeypatch.setattr(machine, "PROC_CGROUP", tmp_path / "no such file")
    assert machine.affinity_cores() == 1 and machine.usable_cores() == 1
