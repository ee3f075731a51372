"""Adaptive computed torque: a spiking population learns, online with PES, the torque the model misses.

The ground: DeWolf, Stewart, Slotine and Eliasmith 2016 ("A spiking neural model of adaptive arm control",
Proc. R. Soc. B) and abr_control's `signals.DynamicsAdaptation`. Around an analytic controller (here the
computed-torque controllers of `neuroctl.control.computed_torque`: tau = M(q) qdd + h(q, qd) from the
robot's *nominal* rigid-body model, qdd from PD or the spiking MPC), a population of LIF neurons
represents the joint state and decodes an extra torque, added to tau before the clip:

    tau = M(q) qdd + h(q, qd) + u_adapt(q, qd),      u_adapt = D a(x),   x = scaled [q, qd]

Its decoders D (7 x n_neurons, starting at zero) learn with PES (`neuroctl.network.PES`: dD = -kappa dt /
n e a^T, a the filtered spike trains) from the error e = -u_train, where u_train is the controller's own
tracking signal in torque space, the PD form of DeWolf et al. 2016 mapped through the model's mass
matrix:

    u_train = M(q) (Kp (q* - q) - Kd qd),   Kp = w^2, Kd = 2 w  (w: `adaptive.natural_frequency_rad_s`).

A payload the model does not know leaves a steady tracking error whose u_train keeps pushing D until
u_adapt supplies the missing torque (J^T m g of the payload, plus whatever friction costs) and the error
is gone: PES then stops (e = 0). Learning runs every physics-rate tick in the loop, no gradient through
time: what a neuromorphic chip can do on chip.

What is spiking: the population (n_neurons LIF neurons, current-based synapses; `neuroctl.network`), its
decoded output and its PES decoder updates. Not spiking: the input scaling, u_train (M(q) is already
computed for the computed torque; its 7x7 product and the PD terms are charged as CPU_MACS), and the
rest of the computed-torque controller as that module says. Counted in `activity` per tick: the
population's spikes, synaptic events (spikes x 7 decoded outputs), neuron updates, its dense twin's
MACs (the 14 x n encoding and 7 x n decoding per substep) and its PES weight updates (7 x n per
substep, WEIGHT_UPDATES); the planner's counts (the spiking MPC's) are added to those.

The controller that "knows the payload" (`*_known_payload` kinds): the same computed torque with the
payload in its model, given the true mass and offset in its config: what the payload adds to the
inverse dynamics at (q, qd, qdd) (`PayloadRobot.payload_torques`: the simulator's model of the loaded
arm minus the nominal one), i.e. its weight J(q)^T m g *and* its inertia. Gravity alone (J^T m g) is
not enough on the Panda: 2 kg at the hand multiplies the wrist's inertia several times, and the PD,
scaled by the nominal M(q), is then underdamped and slow there (measured: targets missed by 3-69 cm
at the end of 2 s windows with J^T m g alone). It is the reference an adaptive controller is judged
against. Nothing in that term spikes (CPU_MACS: estimated as two inverse dynamics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from neuroctl.config import range_field
from neuroctl.control.computed_torque import (ComputedTorquePDConfig, ComputedTorquePDController,
                                              ComputedTorqueSpikingMPCConfig, ComputedTorqueSpikingMPCController,
                                              joint_ranges)

PAYLOAD_MACS = 2 * (150 * 7 - 48)  # two recursive Newton-Euler passes (loaded and nominal), as computed_torque


@runtime_checkable
class PayloadRobot(Protocol):
    """A robot that can give the gravity torque of a point payload at its end effector (J^T m g)."""

    def payload_torques(self, q: np.ndarray, qd: np.ndarray, qdd: np.ndarray, mass_kg: float, offset_m,
                        out: np.ndarray) -> None: ...


@dataclass(frozen=True)
class KnownPayloadSection:
    """The payload the controller's model is told about (the true one, for the comparison)."""

    payload_kg: float = range_field(0.0, min=0.0, max=100.0, doc="mass at the end effector")
    payload_offset_m: tuple[float, ...] = range_field((0.0, 0.0, 0.0), min=-1.0, max=1.0,
                                                      doc="its centre of mass from the end effector, "
                                                          "end-effector frame (3)")


@dataclass(frozen=True)
class AdaptiveSection:
    """The spiking population that learns the missing torque (see the module docstring)."""

    n_neurons: int = range_field(1000, min=1, max=20_000, doc="LIF neurons of the population")
    learning_rate: float = range_field(1e-4, min=0.0, max=1.0, doc="PES learning rate kappa (Nengo's scaling)")
    natural_frequency_rad_s: float = range_field(5.0, min=0.0, min_exclusive=True, max=1000.0,
                                                 doc="w of the training signal: Kp = w^2, Kd = 2 w")
    tau_syn_s: float = range_field(0.005, min=0.0, min_exclusive=True, max=1.0,
                                   doc="input synapse of the neurons")
    tau_readout_s: float = range_field(0.01, min=0.0, min_exclusive=True, max=1.0,
                                       doc="readout filter the torque is decoded from")
    pre_synapse_s: float = range_field(0.005, min=0.0, min_exclusive=True, max=1.0,
                                       doc="PES filter of the presynaptic activities")
    max_rates_hz: tuple[float, ...] = range_field((100.0, 200.0), min=1.0, max=1000.0,
                                                  doc="range of the neurons' maximum rates (2)")
    intercepts: tuple[float, ...] = range_field((-0.2, 0.6), min=-1.0, max=0.99,
                                                doc="range of the neurons' intercepts (2)")
    velocity_scale_rad_s: float = range_field(2.0, min=0.0, min_exclusive=True, max=100.0,
                                              doc="qd / this is the velocity input")
    input_radius: float = range_field(1.0, min=0.0, min_exclusive=True, max=100.0,
                                      doc="the scaled state is divided by this before the population")
    max_torque_fraction: float = range_field(0.5, min=0.0, max=1.0,
                                             doc="|u_adapt| clipped to this fraction of each limit")
    seed: int = range_field(0, min=0, max=2**32 - 1, doc="seed of the population's build")


@dataclass(frozen=True)
class ComputedTorquePDKnownPayloadConfig(ComputedTorquePDConfig):
    """PD computed torque whose model knows the payload."""

    known_payload: KnownPayloadSection = field(default_factory=KnownPayloadSection)


@dataclass(frozen=True)
class ComputedTorqueSpikingMPCKnownPayloadConfig(ComputedTorqueSpikingMPCConfig):
    """Spiking-MPC computed torque whose model knows the payload."""

    known_payload: KnownPayloadSection = field(default_factory=KnownPayloadSection)


@dataclass(frozen=True)
class ComputedTorquePDAdaptiveConfig(ComputedTorquePDConfig):
    """PD computed torque plus the PES-learned torque."""

    adaptive: AdaptiveSection = field(default_factory=AdaptiveSection)


@dataclass(frozen=True)
class ComputedTorqueSpikingMPCAdaptiveConfig(ComputedTorqueSpikingMPCConfig):
    """Spiking-MPC computed torque plus the PES-learned torque."""

    adaptive: AdaptiveSection = field(default_factory=AdaptiveSection)


class KnownPayload:
    """tau += what the configured payload adds to the inverse dynamics at (q, qd, qdd): its weight J^T m g
    and its inertia (`PayloadRobot.payload_torques`, the simulator's model of the loaded arm). Not spiking."""

    def __init__(self, section: KnownPayloadSection, robot) -> None:
        if not isinstance(robot, PayloadRobot):
            raise ValueError(f"known_payload: the robot ({type(robot).__name__}) gives no payload_torques")
        if len(section.payload_offset_m) != 3:
            raise ValueError(f"known_payload.payload_offset_m: expected 3 values, got {len(section.payload_offset_m)}")
        self.robot = robot
        self.mass_kg = float(section.payload_kg)
        self.offset_m = [float(v) for v in section.payload_offset_m]
        self.torque_nm = np.zeros(len(robot.joint_names))

    def add(self, q: np.ndarray, qd: np.ndarray, qdd: np.ndarray, torque_nm: np.ndarray) -> None:
        self.robot.payload_torques(q, qd, qdd, self.mass_kg, self.offset_m, self.torque_nm)
        torque_nm += self.torque_nm


class AdaptivePopulation:
    """The LIF population, its decoded torque and PES on its decoders (see the module docstring).

    `step(q, qd, u_train, n_substeps)` returns u_adapt (N m, reused array): the error -u_train is set,
    the network runs `n_substeps` substeps, decoding with the decoders as they were learned up to then.
    `activity` holds the last step's counts (ACTIVITY_FIELDS)."""

    LABEL = "u_adapt"

    def __init__(self, section: AdaptiveSection, q_low: np.ndarray, q_high: np.ndarray, limits_nm: np.ndarray,
                 dt_s: float) -> None:
        from neuroctl.network import PES, NetworkDescription, build
        from neuroctl.network.simulator import SpikingNetwork

        for key in ("max_rates_hz", "intercepts"):
            values = getattr(section, key)
            if len(values) != 2 or values[0] > values[1]:
                raise ValueError(f"adaptive.{key}: expected [low, high] with low <= high, got {list(values)}")
        n = q_low.size
        self.n_joints = n
        self.center = 0.5 * (q_low + q_high)
        self.half_range = np.maximum(0.5 * (q_high - q_low), 1e-6)
        self.velocity_scale = section.velocity_scale_rad_s
        self.input_scale = 1.0 / section.input_radius
        self.limit_nm = section.max_torque_fraction * limits_nm
        description = NetworkDescription()
        ensemble = description.ensemble(
            section.n_neurons, 2 * n, max_rates_hz=tuple(section.max_rates_hz), intercepts=tuple(section.intercepts),
            tau_syn_s=section.tau_syn_s, tau_readout_s=section.tau_readout_s, label="adaptive")
        description.input(ensemble)
        description.output(ensemble, transform=np.zeros((n, 2 * n)),
                           learning_rule=PES(learning_rate=section.learning_rate,
                                             pre_synapse_s=section.pre_synapse_s), label=self.LABEL)
        self.network = SpikingNetwork(build(description, dt_s, seed=section.seed))
        self.seed = section.seed
        self.x = np.zeros(2 * n)
        self.error = np.zeros(n)
        self.torque_nm = np.zeros(n)

    @property
    def activity(self) -> np.ndarray:
        return self.network.activity

    def reset(self) -> None:
        """Neurons back to rest and the decoders back to zero (a fresh, unlearned population)."""
        self.network.reset(self.seed)
        self.torque_nm[:] = 0.0

    def rehearsal_arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays `step` writes, the network's included (its learned decoders)."""
        return self.x, self.error, self.torque_nm, *self.network.rehearsal_arrays()

    def step(self, q: np.ndarray, qd: np.ndarray, u_train: np.ndarray, n_substeps: int) -> np.ndarray:
        n = self.n_joints
        x = self.x
        np.subtract(q, self.center, out=x[:n])
        x[:n] /= self.half_range
        np.divide(qd, self.velocity_scale, out=x[n:])
        np.clip(x, -1.0, 1.0, out=x)
        x *= self.input_scale
        np.negative(u_train, out=self.error)
        self.network.set_error(self.LABEL, self.error)
        y = self.network.step(x, n_substeps)
        np.clip(y, -self.limit_nm, self.limit_nm, out=self.torque_nm)
        return self.torque_nm


class _AdaptiveTerm:
    """Mixin for a computed-torque controller: tau += u_adapt, learned online (see the module docstring)."""

    def _setup_adaptive(self, section: AdaptiveSection) -> None:
        q_low, q_high = _workspace(self.robot, self.config.computed_torque)
        period = float(self.robot.control_period_s)
        n_substeps = max(1, int(round(period / 0.001)))
        self.adaptive = AdaptivePopulation(section, q_low, q_high, self.limits_nm, period / n_substeps)
        self._adaptive_substeps = n_substeps
        w = section.natural_frequency_rad_s
        self._kp_train, self._kd_train = w * w, 2.0 * w
        n = self.n_joints
        self.u_train = np.zeros(n)
        self._train_qdd = np.zeros(n)
        self._zero_reference = np.zeros(2 * n)
        self.adaptive_torque_nm = self.adaptive.torque_nm
        self._adaptive_macs = n * n + 4 * n

    def _reset_adaptive(self) -> None:
        self.adaptive.reset()
        self.u_train[:] = 0.0

    def rehearsal_arrays(self) -> tuple[np.ndarray, ...] | None:
        arrays = super().rehearsal_arrays()
        if arrays is None:
            return None
        return (*arrays, self.u_train, self._train_qdd, *self.adaptive.rehearsal_arrays())

    def _add_torques(self, reference: np.ndarray | None, torque_nm: np.ndarray) -> None:
        n = self.n_joints
        reference = self._zero_reference if reference is None else reference
        qdd = self._train_qdd
        np.subtract(reference[:n], self.q, out=qdd)
        qdd *= self._kp_train
        qdd -= self._kd_train * (self.qd - reference[n:])
        np.matmul(self.mass, qdd, out=self.u_train)
        u = self.adaptive.step(self.q, self.qd, self.u_train, self._adaptive_substeps)
        torque_nm += u
        self.activity += self.adaptive.activity  # the network's counts (its cpu_macs are 0)


def _workspace(robot, section) -> tuple[np.ndarray, np.ndarray]:
    """The joint box the population's q input spans: the computed-torque section's workspace box where
    given, else the joint ranges."""
    q_low, q_high = joint_ranges(robot)
    if section.workspace_low_rad:
        q_low = np.maximum(q_low, np.asarray(section.workspace_low_rad, dtype=np.float64))
    if section.workspace_high_rad:
        q_high = np.minimum(q_high, np.asarray(section.workspace_high_rad, dtype=np.float64))
    return q_low, q_high


class _KnownPayloadTerm:
    def _add_torques(self, reference: np.ndarray | None, torque_nm: np.ndarray) -> None:
        self.known_payload.add(self.q, self.qd, self.qdd, torque_nm)

    def rehearsal_arrays(self) -> tuple[np.ndarray, ...] | None:
        arrays = super().rehearsal_arrays()
        return None if arrays is None else (*arrays, self.known_payload.torque_nm)


class ComputedTorquePDKnownPayloadController(_KnownPayloadTerm, ComputedTorquePDController):
    """PD computed torque with the true payload in its model: nothing in it spikes."""

    def __init__(self, config: ComputedTorquePDKnownPayloadConfig, model, observation_size: int, robot) -> None:
        super().__init__(config, model, observation_size, robot)
        self.known_payload = KnownPayload(config.known_payload, robot)
        self._cpu_macs += PAYLOAD_MACS


class ComputedTorqueSpikingMPCKnownPayloadController(_KnownPayloadTerm, ComputedTorqueSpikingMPCController):
    """Spiking-MPC computed torque with the true payload in its model: the planner spikes, the payload
    term (like the rest of the computed torque) does not."""

    def __init__(self, config: ComputedTorqueSpikingMPCKnownPayloadConfig, model, observation_size: int,
                 robot) -> None:
        super().__init__(config, model, observation_size, robot)
        self.known_payload = KnownPayload(config.known_payload, robot)
        self._cpu_macs += PAYLOAD_MACS


class ComputedTorquePDAdaptiveController(_AdaptiveTerm, ComputedTorquePDController):
    """PD computed torque (not spiking) plus the PES-learned torque of a spiking LIF population (spiking:
    the population, its decoding and its learning)."""

    def __init__(self, config: ComputedTorquePDAdaptiveConfig, model, observation_size: int, robot) -> None:
        super().__init__(config, model, observation_size, robot)
        self._setup_adaptive(config.adaptive)
        self._cpu_macs += self._adaptive_macs

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self._reset_adaptive()


class ComputedTorqueSpikingMPCAdaptiveController(_AdaptiveTerm, ComputedTorqueSpikingMPCController):
    """Spiking-MPC computed torque plus the PES-learned torque: spiking are the planner (sigma-delta
    gradient neurons) and the adaptive population (LIF, decoding, PES); the dynamics are not."""

    def __init__(self, config: ComputedTorqueSpikingMPCAdaptiveConfig, model, observation_size: int,
                 robot) -> None:
        super().__init__(config, model, observation_size, robot)
        self._setup_adaptive(config.adaptive)
        self._cpu_macs += self._adaptive_macs

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self._reset_adaptive()
