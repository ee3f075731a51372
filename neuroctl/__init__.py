"""neuroctl: real-time robot control with recurrent spiking networks.

Importing the package is cheap: it registers the gymnasium environment ids and nothing else
(no numba compile, no PyBullet connection).
"""

from neuroctl.startup import record_interrupt_while_starting

record_interrupt_while_starting()

from neuroctl.envs.registration import register_envs  # noqa: E402  (after the interrupt guard)

__version__ = "0.1.0"

register_envs()
