"""PyBullet's C API from compiled code: the per-step calls of a robot without PyBullet's Python layer.

PyBullet's Python functions parse their arguments, look the client up and build Python objects of every
result (getJointStates: a 4-tuple and a 6-tuple per joint; stepSimulation: a dict per simulation
island): 1-3 us a call, as much as a small robot's physics. Under them are exported C functions of the
same extension (`b3SubmitClientCommandAndWaitStatus` and the command builders of Bullet's
SharedMemory/PhysicsClientC_API.h); compiled code calls them through their addresses (`c_function`).
They take the client's handle, which PyBullet keeps in a static table (`sPhysicsClients1` in
pybullet.c, one pointer per client id): its address is the extension's load address (an exported
function's address minus its symbol value) plus the table's symbol value, both from the extension's
ELF symbol table.

`native_api()` is None where that cannot work (not Linux, an extension without a symbol table, a table
of another name) or when the environment variable NEUROCTL_PYBULLET_NATIVE is 0: robots then step
through PyBullet's Python API, with the same results.
`native_client` checks the handle it reads: the server answers it, knows the body and reports its joint
states as getJointStates does.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
import os
import struct
from dataclasses import dataclass

import numpy as np
from llvmlite import ir
from numba import types
from numba.experimental import structref
from numba.extending import intrinsic

from neuroctl.envs.bullet import c_output_silenced, pybullet
from neuroctl.envs.kernels import bounded_observation, command_and_cost
from neuroctl.network.jit import cached_njit

native_kernel = cached_njit(release_gil=False)
"""The kernels here keep the GIL: PyBullet's Python functions, the other callers of the same client,
hold it while they run."""

CLIENT_TABLE = "sPhysicsClients1"
"""pybullet.c's static array of client handles, indexed by client id."""
ANCHOR = "b3ConnectPhysicsDirect"
"""An exported function of the extension whose address gives its load address."""
MAX_PHYSICS_CLIENTS = 1024  # pybullet.c's size of the client table
STT_OBJECT = 1  # an ELF symbol's type: a data object
DISABLE_VARIABLE = "NEUROCTL_PYBULLET_NATIVE"

FUNCTIONS = ("b3CanSubmitCommand", "b3SubmitClientCommandAndWaitStatus", "b3GetStatusType",
             "b3InitStepSimulationCommand", "b3RequestActualStateCommandInit", "b3GetStatusActualState",
             "b3JointControlCommandInit2", "b3JointControlSetDesiredForceTorque", "b3GetNumJoints")
(CAN_SUBMIT, SUBMIT_AND_WAIT, STATUS_TYPE, STEP_COMMAND, ACTUAL_STATE_COMMAND, ACTUAL_STATE,
 JOINT_CONTROL_COMMAND, SET_FORCE_TORQUE, NUM_JOINTS) = range(len(FUNCTIONS))
CLOCK_GETTIME, REMAINDER = len(FUNCTIONS), len(FUNCTIONS) + 1
"""Indices of libc's clock_gettime and libm's remainder (IEEE 754: exact, so math.remainder's values) in
`NativeApi.addresses`, after the PyBullet functions."""
CLOCK_MONOTONIC = 1  # Linux's clock id; time.perf_counter reads the same clock
TORQUE_CONTROL = pybullet.TORQUE_CONTROL  # CONTROL_MODE_TORQUE of the C API


@dataclass(frozen=True)
class NativeApi:
    """The C functions' addresses (`FUNCTIONS`, then clock_gettime) and the client table's address."""

    addresses: np.ndarray
    client_table: int


@dataclass(frozen=True)
class NativeJoints:
    """What a robot declares to step natively (`BulletRobotEnv.native_joints`): its state is the positions
    of `state_joints` (each wrapped to [-pi, pi] where `wrapped`), then their velocities; its commands
    are torques on `torque_joints`, one per actuator, applied as setJointMotorControl2's TORQUE_CONTROL;
    its task error is its state and its noise-free observation the state's first entries, one per
    sensor; a step terminates the episode when some |state[i]| > termination_limits[i] (inf: never), and
    its reward is 1 until the episode has terminated, 0 after (the robot's `_after_step` says the same).
    The native step replaces the robot's hooks (`_apply_command`, `_read_state`, `_observe`, `_after_step`,
    `_state_error`): a subclass that overrides one of them sets `native_joints = None`."""

    body: int
    torque_joints: tuple[int, ...]
    state_joints: tuple[int, ...]
    wrapped: tuple[bool, ...]
    termination_limits: tuple[float, ...]


@dataclass(frozen=True)
class NativeClient:
    """A checked client handle and the status type its server answers a state request with (the C
    header's CMD_ACTUAL_STATE_UPDATE_COMPLETED, observed rather than copied: its value moves between
    Bullet versions)."""

    handle: int
    state_status: int


def elf_symbols(path: str, names: tuple[str, ...]) -> dict[str, tuple[int, int, int]]:
    """(value: the address relative to the load address, type: STT_OBJECT 1 or STT_FUNC 2, size in bytes)
    of each of `names` found in the symbol tables (.symtab, .dynsym) of the 64-bit little-endian ELF file
    at `path`."""
    wanted = {name.encode(): name for name in names}
    found: dict[str, tuple[int, int, int]] = {}
    with open(path, "rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
            return found
        (section_offset,) = struct.unpack_from("<Q", header, 0x28)
        entry_size, n_sections = struct.unpack_from("<HH", header, 0x3A)
        f.seek(section_offset)
        table = f.read(entry_size * n_sections)
        sections = [struct.unpack_from("<IIQQQQIIQQ", table, i * entry_size) for i in range(n_sections)]
        for _, kind, _, _, offset, size, link, _, _, _ in sections:
            if kind not in (2, 11):  # SHT_SYMTAB, SHT_DYNSYM
                continue
            f.seek(offset)
            symbols = f.read(size)
            f.seek(sections[link][4])
            strings = f.read(sections[link][5])
            for k in range(size // 24):
                name_at, info, _, _, value, symbol_size = struct.unpack_from("<IBBHQQ", symbols, 24 * k)
                name = strings[name_at : strings.find(b"\0", name_at)]
                if name in wanted and value:
                    found[wanted[name]] = (value, info & 0xF, symbol_size)
    return found


@functools.cache
def native_api() -> NativeApi | None:
    """The C API of the loaded PyBullet extension, or None where it cannot be reached (module docstring)."""
    if os.environ.get(DISABLE_VARIABLE) == "0":
        return None
    libc_name, libm_name = ctypes.util.find_library("c"), ctypes.util.find_library("m")
    path = getattr(pybullet, "__file__", None)
    if path is None or libc_name is None or libm_name is None:
        return None
    try:
        library = ctypes.CDLL(path)
        symbols = elf_symbols(path, (CLIENT_TABLE, ANCHOR))
        functions = [getattr(library, name) for name in FUNCTIONS]
        functions += [ctypes.CDLL(libc_name).clock_gettime, ctypes.CDLL(libm_name).remainder]
        anchor = getattr(library, ANCHOR)
    except (OSError, AttributeError, struct.error):  # no such library or function, a truncated file
        return None
    if set(symbols) != {CLIENT_TABLE, ANCHOR} or symbols[CLIENT_TABLE][1:] != (STT_OBJECT, 8 * MAX_PHYSICS_CLIENTS):
        return None
    load_address = ctypes.cast(anchor, ctypes.c_void_p).value - symbols[ANCHOR][0]
    addresses = [ctypes.cast(function, ctypes.c_void_p).value for function in functions]
    api = NativeApi(np.array(addresses, dtype=np.int64), load_address + symbols[CLIENT_TABLE][0])
    return api if _indexed_by_client_id(api) else None


def _table_entry(api: NativeApi, client_id: int) -> int:
    return ctypes.c_int64.from_address(api.client_table + 8 * client_id).value


def _indexed_by_client_id(api: NativeApi) -> bool:
    """Whether the table at `api.client_table` behaves as pybullet's client table: a client connected
    now has an entry there, at its id, and it is cleared when the client disconnects."""
    with c_output_silenced():
        client_id = pybullet.connect(pybullet.DIRECT)
    if not 0 <= client_id < MAX_PHYSICS_CLIENTS:
        return False
    connected = _table_entry(api, client_id) != 0
    pybullet.disconnect(physicsClientId=client_id)
    return connected and _table_entry(api, client_id) == 0


def native_client(api: NativeApi, client_id: int, body: int) -> NativeClient | None:
    """The C handle of PyBullet client `client_id`, checked: the server accepts commands on it, reports
    as many joints of `body` as PyBullet's Python API does, and the joint states read through it are
    those getJointStates gives; None otherwise."""
    if not 0 <= client_id < MAX_PHYSICS_CLIENTS:
        return None
    handle = _table_entry(api, client_id)
    if handle == 0:
        return None
    n_joints = pybullet.getNumJoints(body, physicsClientId=client_id)
    if _check(api.addresses, handle, body) != n_joints:
        return None
    q_indices, u_indices = joint_indices(client_id, body, range(n_joints))
    positions, velocities = np.zeros(n_joints), np.zeros(n_joints)
    status = _state_status(api.addresses, handle, body)
    read = read_joint_states(api.addresses, handle, body, status, q_indices, u_indices,
                             np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int32), positions, velocities)
    expected = pybullet.getJointStates(body, range(n_joints), physicsClientId=client_id) if n_joints else ()
    if not read or [(p, v) for p, v, _, _ in expected] != list(zip(positions.tolist(), velocities.tolist())):
        return None
    return NativeClient(handle, status)


def joint_indices(client_id: int, body: int, joints) -> tuple[np.ndarray, np.ndarray]:
    """The position (qIndex) and velocity (uIndex) index of each of `joints` in the body's state arrays
    (getJointInfo's), int32; -1 for a fixed joint."""
    infos = [pybullet.getJointInfo(body, joint, physicsClientId=client_id) for joint in joints]
    return (np.array([info[3] for info in infos], dtype=np.int32),
            np.array([info[4] for info in infos], dtype=np.int32))


@intrinsic
def _load_double(typingctx, address):
    """The float64 at memory `address` (int64)."""

    def codegen(context, builder, signature, llargs):
        return builder.load(builder.inttoptr(llargs[0], ir.DoubleType().as_pointer()))

    return types.float64(types.int64), codegen


def c_function(name: str, restype: types.Type, *argtypes: types.Type):
    """A compiled callable `name(address, *args) -> restype` calling the C function at `address` (int64)
    with 1-4 or 8 `args` converted to `argtypes` (pointers are int64)."""

    def codegen(context, builder, signature, llargs):
        function = ir.FunctionType(context.get_value_type(restype), [context.get_value_type(t) for t in argtypes])
        values = [context.cast(builder, value, given, wanted)
                  for value, given, wanted in zip(llargs[1:], signature.args[1:], argtypes)]
        return builder.call(builder.inttoptr(llargs[0], function.as_pointer()), values)

    definitions = {  # an intrinsic's parameters are its definition's: one per arity
        1: lambda typingctx, address, a: (restype(address, a), codegen),
        2: lambda typingctx, address, a, b: (restype(address, a, b), codegen),
        3: lambda typingctx, address, a, b, c: (restype(address, a, b, c), codegen),
        4: lambda typingctx, address, a, b, c, d: (restype(address, a, b, c, d), codegen),
        8: lambda typingctx, address, a, b, c, d, e, f, g, h: (restype(address, a, b, c, d, e, f, g, h), codegen),
    }
    definition = definitions[len(argtypes)]
    definition.__name__ = definition.__qualname__ = name
    return intrinsic(definition)


_pointer_of_pointer = c_function("pointer_of_pointer", types.int64, types.int64)
_pointer_of_pointer_int = c_function("pointer_of_pointer_int", types.int64, types.int64, types.int32)
_pointer_of_pointer_int_int = c_function("pointer_of_pointer_int_int", types.int64, types.int64, types.int32,
                                         types.int32)
_pointer_of_two_pointers = c_function("pointer_of_two_pointers", types.int64, types.int64, types.int64)
_int_of_pointer = c_function("int_of_pointer", types.int32, types.int64)
_int_of_pointer_int = c_function("int_of_pointer_int", types.int32, types.int64, types.int32)
_int_of_pointer_int_double = c_function("int_of_pointer_int_double", types.int32, types.int64, types.int32,
                                        types.float64)
_int_of_eight_pointers = c_function("int_of_eight_pointers", types.int32, *(types.int64,) * 8)
_double_of_two_doubles = c_function("double_of_two_doubles", types.float64, types.float64, types.float64)
_int_of_int_pointer = c_function("int_of_int_pointer", types.int32, types.int32, types.int64)


@native_kernel
def _check(api, handle, body):
    """The number of joints of `body` the server reports on `handle`; -1 when it takes no commands."""
    if _int_of_pointer(api[CAN_SUBMIT], handle) == 0:
        return -1
    return _int_of_pointer_int(api[NUM_JOINTS], handle, body)


@native_kernel
def _state_status(api, handle, body):
    """The status type of the server's answer to a state request for `body`."""
    status = _pointer_of_two_pointers(api[SUBMIT_AND_WAIT], handle,
                                      _pointer_of_pointer_int(api[ACTUAL_STATE_COMMAND], handle, body))
    return _int_of_pointer(api[STATUS_TYPE], status)


@native_kernel
def monotonic_s(api, timespec):
    """CLOCK_MONOTONIC in seconds (the clock of time.perf_counter); `timespec`: int64 scratch of 2."""
    _int_of_int_pointer(api[CLOCK_GETTIME], CLOCK_MONOTONIC, timespec.ctypes.data)
    return timespec[0] + 1e-9 * timespec[1]


@native_kernel
def apply_joint_torques(api, handle, body, dofs, torques):
    """torques[k] on the joint whose velocity index (uIndex) is dofs[k]: for each, the command that
    setJointMotorControl2 with TORQUE_CONTROL sends."""
    for k in range(dofs.shape[0]):
        command = _pointer_of_pointer_int_int(api[JOINT_CONTROL_COMMAND], handle, body, TORQUE_CONTROL)
        _int_of_pointer_int_double(api[SET_FORCE_TORQUE], command, dofs[k], torques[k])
        _pointer_of_two_pointers(api[SUBMIT_AND_WAIT], handle, command)


@native_kernel
def step_simulation(api, handle):
    """One stepSimulation call (its substeps as the physics engine parameters set them)."""
    _pointer_of_two_pointers(api[SUBMIT_AND_WAIT], handle, _pointer_of_pointer(api[STEP_COMMAND], handle))


@native_kernel
def read_joint_states(api, handle, body, state_status, q_indices, u_indices, pointers, counts, positions,
                      velocities):
    """positions[k] = q[q_indices[k]], velocities[k] = u[u_indices[k]] of the body's state arrays (what
    getJointStates reports); scratch: `pointers` int64 of 2 (the arrays' addresses), `counts` int32 of 2
    (their sizes, which bound the indices). Returns False when the server did not answer with the state
    (a status other than `state_status`, `NativeClient`'s) or an index is out of range."""
    status = _pointer_of_two_pointers(api[SUBMIT_AND_WAIT], handle,
                                      _pointer_of_pointer_int(api[ACTUAL_STATE_COMMAND], handle, body))
    if _int_of_pointer(api[STATUS_TYPE], status) != state_status:
        return False
    where, sizes = pointers.ctypes.data, counts.ctypes.data
    if _int_of_eight_pointers(api[ACTUAL_STATE], status, 0, sizes, sizes + 4, 0, where, where + 8, 0) == 0:
        return False
    for k in range(q_indices.shape[0]):  # a fixed joint (index -1) reads 0, as in b3GetJointState
        if q_indices[k] >= counts[0] or u_indices[k] >= counts[1]:
            return False
        positions[k] = _load_double(pointers[0] + 8 * q_indices[k]) if q_indices[k] >= 0 else 0.0
        velocities[k] = _load_double(pointers[1] + 8 * u_indices[k]) if u_indices[k] >= 0 else 0.0
    return True

@structref.register
class JointRobotArraysType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(kind)) for name, kind in fields)


class JointRobotArrays(structref.StructRefProxy):
    """Everything `joint_robot_period` touches, in one structref (built by `joint_robot_arrays`): the
    arrays are the environment's own, shared."""


JOINT_ROBOT_FIELDS = (
    "api", "handle", "state_status", "body", "torque_dofs", "q_indices", "u_indices", "wrapped",
    "termination_limits", "scale", "command", "error", "cost_q", "cost_r", "state", "pointers", "counts",
    "timespec",
    "low", "high", "observed", "observe", "stage_times",
)  # fmt: skip
structref.define_proxy(JointRobotArrays, JointRobotArraysType, list(JOINT_ROBOT_FIELDS))


@native_kernel
def _new_joint_robot_arrays(*fields):
    return JointRobotArrays(*fields)


def joint_robot_arrays(api: NativeApi, client: NativeClient, client_id: int, joints: NativeJoints,
                       **arrays: np.ndarray | bool) -> JointRobotArrays:
    """The structref of `JOINT_ROBOT_FIELDS` from the API, the client (`client_id`'s), the robot's joints
    and the environment's arrays by field name. A ValueError when the declaration does not fit them."""
    n, state, command = len(joints.state_joints), arrays["state"], arrays["command"]
    if (len(joints.wrapped) != n or state.shape != (2 * n,) or len(joints.termination_limits) != 2 * n
            or len(joints.torque_joints) != command.shape[0]):
        raise ValueError(f"NativeJoints: {n} state joints, {len(joints.wrapped)} wrapped flags and "
                         f"{len(joints.termination_limits)} termination limits for a state of {state.shape[0]}, "
                         f"{len(joints.torque_joints)} torque joints for {command.shape[0]} actuators")
    q_indices, u_indices = joint_indices(client_id, joints.body, joints.state_joints)
    fixed = {"api": api.addresses, "handle": client.handle, "state_status": client.state_status,
             "body": joints.body, "torque_dofs": joint_indices(client_id, joints.body, joints.torque_joints)[1],
             "q_indices": q_indices, "u_indices": u_indices, "wrapped": np.array(joints.wrapped),
             "termination_limits": np.array(joints.termination_limits, dtype=np.float64),
             "pointers": np.zeros(2, dtype=np.int64), "counts": np.zeros(2, dtype=np.int32),
             "timespec": np.zeros(2, dtype=np.int64)}
    fields = {**fixed, **arrays}
    return _new_joint_robot_arrays(*(fields[name] for name in JOINT_ROBOT_FIELDS))


@native_kernel
def joint_robot_period(r, action, out):
    """One control period of a `NativeJoints` robot in one call, the calls of PyBullet's Python path:
    the command and task cost of `action` (`command_and_cost`; the task error, when the task has one, is
    the state before the step), the command's torques applied, one stepSimulation call, the joint states
    read into r.state (positions wrapped where asked), and, when r.observe, the float32 observation (the
    state's first entries, one per sensor, within [low, high]) into r.observed and `out` (of that size).
    The stage times (actuate, physics, sense) go into r.stage_times. Returns (action finite, task cost,
    state read, terminated: some |state[i]| beyond its termination limit)."""
    api, handle, state = r.api, r.handle, r.state
    start = monotonic_s(api, r.timespec)
    if r.error.shape[0]:
        r.error[:] = state
    finite, cost = command_and_cost(action, r.scale, r.command, r.error, r.cost_q, r.cost_r)
    apply_joint_torques(api, handle, r.body, r.torque_dofs, r.command)
    actuated = monotonic_s(api, r.timespec)
    step_simulation(api, handle)
    simulated = monotonic_s(api, r.timespec)
    n = r.q_indices.shape[0]
    read = read_joint_states(api, handle, r.body, r.state_status, r.q_indices, r.u_indices, r.pointers,
                             r.counts, state[:n], state[n:])
    terminated = False
    for i in range(state.shape[0]):
        if i < n and r.wrapped[i]:
            state[i] = _double_of_two_doubles(api[REMAINDER], state[i], 2.0 * math.pi)
        terminated |= abs(state[i]) > r.termination_limits[i]
    if r.observe:
        bounded_observation(state[: r.observed.shape[0]], r.low, r.high, r.observed, out)
    sensed = monotonic_s(api, r.timespec)
    r.stage_times[0] = actuated - start
    r.stage_times[1] = simulated - actuated
    r.stage_times[2] = sensed - simulated
    return finite, cost, read, terminated
