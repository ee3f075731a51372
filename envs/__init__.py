"""PyBullet robots as plain gymnasium environments (installed as `neuroctl.envs`).

Nothing here imports the controller side of neuroctl: any gymnasium agent can use these.
"""
