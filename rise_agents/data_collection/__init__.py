"""Recording expert episodes from the twin (or any env honouring the same contract) into LeRobot v3.0 datasets."""

from rise_agents.data_collection.recorder import record_episode
from rise_agents.data_collection.runner import TASKS, CollectConfig, CollectReport, EpisodeJob, collect, plan_jobs

__all__ = ["TASKS", "CollectConfig", "CollectReport", "EpisodeJob", "collect", "plan_jobs", "record_episode"]
