"""Configuration of the scripted brick-sorting expert and of its perturbations."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PerturbationConfig(BaseModel):
    """Ways the expert is made to behave like an imperfect policy (all off by default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timing_offset_s: float = Field(0.0, ge=0, description="Std of the per-pick error (s) on the brick's arrival time.")
    grasp_offset_m: float = Field(0.0, ge=0, description="Std of the per-pick horizontal grasp-position error (m).")
    grasp_miss_prob: float = Field(0.0, ge=0, le=1, description="Probability that a pick aims clearly off the brick.")
    grasp_miss_offset_m: float = Field(0.03, ge=0, description="Size of the aim error of a missed pick (m).")
    yaw_offset_rad: float = Field(0.0, ge=0, description="Std of the per-pick gripper-yaw error (rad).")
    wrong_bin_prob: float = Field(0.0, ge=0, le=1, description="Probability that a brick's colour is misread.")
    drop_prob: float = Field(0.0, ge=0, le=1, description="Probability of opening the gripper while carrying.")
    action_noise_rad: float = Field(
        0.0, ge=0, description="Std of the low-pass filtered noise added to joint targets (rad)."
    )
    noise_smoothing: float = Field(0.9, ge=0, lt=1, description="AR(1) coefficient of the action noise per step.")

    @property
    def active(self) -> bool:
        return any(
            v > 0
            for v in (
                self.timing_offset_s,
                self.grasp_offset_m,
                self.grasp_miss_prob,
                self.yaw_offset_rad,
                self.wrong_bin_prob,
                self.drop_prob,
                self.action_noise_rad,
            )
        )


# Default perturbation of "rollout" and "correction" runs: both successes and failures.
DEFAULT_PERTURBATION = PerturbationConfig(
    timing_offset_s=0.2,
    grasp_offset_m=0.006,
    grasp_miss_prob=0.2,
    yaw_offset_rad=0.12,
    wrong_bin_prob=0.1,
    drop_prob=0.08,
    action_noise_rad=0.01,
)


class ExpertConfig(BaseModel):
    """Timing and geometry of the scripted pick-and-place."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hover_height: float = Field(0.07, gt=0, description="Height above the brick where the descent starts (m).")
    lift_height: float = Field(0.10, gt=0, description="Height the brick is lifted after the grasp (m).")
    release_height: float = Field(0.15, gt=0, description="Grasp-site height above the table over a bin (m).")
    open_width: float = Field(0.065, gt=0, le=0.07, description="Gripper opening while approaching (m).")
    descend_s: float = Field(0.5, gt=0, description="Duration of the descent onto the moving brick (s).")
    close_s: float = Field(0.35, gt=0, description="Duration of the closing phase, following the brick (s).")
    lift_s: float = Field(0.45, gt=0, description="Duration of the lift (s).")
    release_s: float = Field(0.35, gt=0, description="Duration of the gripper opening over the bin (s).")
    peak_joint_speed: float = Field(2.0, gt=0, description="Peak joint speed of free moves (rad/s).")
    window_half_width: float = Field(0.25, gt=0, description="Half length of the belt stretch an arm serves (m).")
    preferred_ahead: float = Field(0.10, description="Preferred grasp point upstream of the arm base (m).")
    takeover_fraction: float = Field(
        0.3, ge=0, le=1, description="Correction mode: fraction of a doomed phase run before the takeover."
    )
