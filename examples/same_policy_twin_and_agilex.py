"""One policy object, two worlds: the MuJoCo twin and the AgileX rig share one env interface.

The policy only sees ``obs`` (three RGB views + the 14-dim state) and returns an ``(H, 14)`` chunk of
absolute joint targets; which env runs it is a command-line flag::

    python examples/same_policy_twin_and_agilex.py --env agilex-sim   # AgileXEnv on the simulated firmware
    python examples/same_policy_twin_and_agilex.py --env twin         # gymnasium.make("RISE/BrickSortingSim-v0")
    python examples/same_policy_twin_and_agilex.py --env agilex --can-left can_left --can-right can_right \\
        --cameras 0 2 4                                               # the real rig (moves the arms!)
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

import gymnasium as gym
import numpy as np

from rise_env.spec import STATE_KEY


class SinePolicy:
    """Scripted chunk policy: every joint sways sinusoidally around the state seen at the first call.

    Args:
        action_space: the env's ``(H, 14)`` Box of absolute targets; chunks stay inside it.
        amplitude: joint amplitude (rad); grippers use a tenth of it (m).
        freq_hz: oscillation frequency.
        control_hz: control rate of the chunk's steps.
    """

    def __init__(self, action_space: gym.spaces.Box, amplitude: float = 0.1, freq_hz: float = 0.25,
                 control_hz: int = 30) -> None:
        self.horizon = action_space.shape[0]
        self.low, self.high = action_space.low[0].astype(np.float64), action_space.high[0].astype(np.float64)
        self.amp = np.array(([amplitude] * 6 + [amplitude / 10]) * 2)
        self.freq_hz, self.control_hz = freq_hz, control_hz
        self.centre: np.ndarray | None = None
        self.step = 0

    def predict_chunk(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """``obs`` -> ``(H, 14)`` float32 absolute targets within the action space."""
        if self.centre is None:
            self.centre = np.clip(obs[STATE_KEY].astype(np.float64), self.low + self.amp, self.high - self.amp)
        t = (self.step + 1 + np.arange(self.horizon)) / self.control_hz
        self.step += self.horizon
        phase = np.sin(2 * np.pi * self.freq_hz * t)[:, None] ** 2  # starts at 0, smooth, in [0, 1]
        chunk = self.centre + self.amp * phase
        return np.clip(chunk, self.low, self.high).astype(np.float32)


@contextlib.contextmanager
def make_env(args: argparse.Namespace) -> Iterator[gym.Env]:
    """The env named by ``--env``, closed on exit."""
    if args.env == "twin":
        import rise_agents  # noqa: F401  (registers RISE/BrickSortingSim-v0)

        env = gym.make("RISE/BrickSortingSim-v0", chunk_size=args.horizon)
        try:
            yield env
        finally:
            env.close()
    elif args.env == "agilex-sim":
        from rise_agents.envs.agilex import SimRig

        with SimRig(chunk_horizon=args.horizon) as rig:
            yield rig.env
    else:  # the real rig
        from rise_agents.envs.agilex import AgileXConfig, AgileXEnv, ArmConfig, CameraConfig
        from rise_env.spec import CAMERA_KEYS

        cfg = AgileXConfig(
            arms=(ArmConfig(name="left", can_interface=args.can_left),
                  ArmConfig(name="right", can_interface=args.can_right)),
            cameras=tuple(CameraConfig(name=k, source=int(s) if s.isdigit() else s)
                          for k, s in zip(CAMERA_KEYS, args.cameras)),
            chunk_horizon=args.horizon,
        )
        with AgileXEnv(cfg) as env:  # Ctrl-C holds then disables the arms
            yield env


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", choices=["agilex-sim", "twin", "agilex"], default="agilex-sim")
    p.add_argument("--chunks", type=int, default=4, help="action chunks to run")
    p.add_argument("--horizon", type=int, default=50, help="steps per chunk H (30 Hz)")
    p.add_argument("--can-left", default="can_left", help="--env agilex: left arm CAN interface")
    p.add_argument("--can-right", default="can_right", help="--env agilex: right arm CAN interface")
    p.add_argument("--cameras", nargs=3, default=["0", "2", "4"], help="--env agilex: top, left, right sources")
    args = p.parse_args(argv)

    with make_env(args) as env:
        policy = SinePolicy(env.action_space)  # the same object whatever the env
        obs, _ = env.reset(seed=0)
        print(f"env={args.env} obs={ {k: v.shape for k, v in obs.items()} } action={env.action_space.shape}")
        for i in range(args.chunks):
            chunk = policy.predict_chunk(obs)
            obs, reward, terminated, truncated, info = env.step(chunk)
            err = np.abs(obs[STATE_KEY] - chunk[-1]).max()
            frames = info.get("frames")
            print(f"chunk {i}: reward={reward:.3f} |state - last target|max={err:.4f} "
                  f"frames={None if frames is None else frames.shape}")
            if terminated or truncated:
                obs, _ = env.reset()


if __name__ == "__main__":
    main()
